"""The one entry point a notebook's first cell calls: ``lab = labsupport.setup()``.

``setup()`` connects to the offline region (starting it if needed), reads the lab configuration,
makes figures PNG, and returns a :class:`Lab` that hands out boto3 clients.

Safety: offline is the default and cannot reach real AWS by accident. Offline clients are pinned
to the region's loopback endpoint with fake credentials, whatever profile or keys the machine has;
the kernel's ``AWS_*`` variables are pointed at the region too, so a plain ``boto3.client("ec2")``
typed in a cell also lands in the lab. Real AWS needs two deliberate steps: ``setup(mode="aws")``
*and* the environment variable ``LABSUPPORT_ALLOW_REAL_AWS=1``.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any

from . import __version__, offline
from .config import LabConfig, load
from .errors import LabError

OFFLINE = "offline"
REAL_AWS = "aws"
FAKE_KEY = "testing"


@dataclass
class Lab:
    """A connected lab: which mode, which endpoint, the configuration, and boto3 clients."""

    mode: str
    region: str
    config: LabConfig
    endpoint: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def offline(self) -> bool:
        return self.mode == OFFLINE

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` in the lab's region (cached: one per service)."""
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            # Offline: no retries (the region answers at once; a retry would only repeat a mistake)
            # and short timeouts. Real AWS: the SDK's standard retry mode.
            config = Config(
                region_name=self.region,
                retries={"mode": "standard", "max_attempts": 1 if self.offline else 4},
                connect_timeout=5 if self.offline else 30,
                read_timeout=120,
            )
            if self.offline:
                self._clients[service] = _offline_session().client(
                    service,
                    endpoint_url=self.endpoint,
                    aws_access_key_id=FAKE_KEY,
                    aws_secret_access_key=FAKE_KEY,
                    config=config,
                )
            else:
                self._clients[service] = boto3.client(service, config=config)
        return self._clients[service]

    def tags(self, resource_type: str, name: str, **extra: str) -> list[dict[str, Any]]:
        """``TagSpecifications`` for an EC2 create call: the Name plus the lab's ownership tag.

        Every resource the lab creates carries the ownership tag, so clean-up can delete exactly
        what the lab made and nothing else (this matters on real AWS).
        """
        tags = [{"Key": "Name", "Value": name}, {"Key": self.config.tag_key, "Value": self.config.tag_value}]
        tags += [{"Key": k, "Value": v} for k, v in extra.items()]
        return [{"ResourceType": resource_type, "Tags": tags}]

    def tag_list(self, name: str) -> list[dict[str, str]]:
        """The same tags as a plain ``Tags=[...]`` list (ELBv2, ECS and others take this form)."""
        return [{"Key": "Name", "Value": name}, {"Key": self.config.tag_key, "Value": self.config.tag_value}]

    def describe(self) -> str:
        if self.offline:
            return f"labsupport {__version__} · offline region · {self.region} · account 123456789012"
        return f"labsupport {__version__} · REAL AWS · {self.region}"


_current: Lab | None = None


def _offline_session() -> Any:
    """A boto3 session that ignores the machine's AWS profile and keys entirely.

    ``AWS_PROFILE`` naming a profile that does not exist (or one with real keys) must not matter
    offline, so the session is told not to read the profile variable at all.
    """
    import boto3
    import botocore.session

    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return boto3.session.Session(aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_KEY, botocore_session=core)


def setup(mode: str | None = None, *, config: str | None = None, quiet: bool = False) -> Lab:
    """Connect the notebook to the lab and return a :class:`Lab`.

    ``mode`` is ``"offline"`` (default; also from ``LABSUPPORT_MODE``) or ``"aws"``.
    Calling it again is cheap and returns an equivalent lab (the region keeps running).
    """
    global _current
    chosen = (mode or os.environ.get("LABSUPPORT_MODE") or OFFLINE).lower()
    cfg = load(config)
    _quiet_library_warnings()
    _png_figures()
    if chosen == OFFLINE:
        info = offline.start()
        lab = Lab(mode=OFFLINE, region=cfg.region, config=cfg, endpoint=info.endpoint)
        # Point everything else in this kernel (a plain boto3.client() a learner types) at the lab.
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": info.endpoint,
                "AWS_ACCESS_KEY_ID": FAKE_KEY,
                "AWS_SECRET_ACCESS_KEY": FAKE_KEY,
                "AWS_DEFAULT_REGION": cfg.region,
                "AWS_REGION": cfg.region,
            }
        )
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(key, None)
    elif chosen == REAL_AWS:
        if os.environ.get("LABSUPPORT_ALLOW_REAL_AWS") != "1":
            raise LabError(
                "Real-AWS mode creates resources that cost money, so it needs a second, deliberate step.",
                "set the environment variable LABSUPPORT_ALLOW_REAL_AWS=1 before starting Jupyter, "
                "then call setup(mode='aws').",
            )
        if os.environ.get("AWS_ENDPOINT_URL"):
            raise LabError(
                "AWS_ENDPOINT_URL is set, so 'real AWS' would still go to " + os.environ["AWS_ENDPOINT_URL"] + ".",
                "unset AWS_ENDPOINT_URL in the environment that starts Jupyter.",
            )
        lab = Lab(mode=REAL_AWS, region=cfg.region, config=cfg)
    else:
        raise LabError(f"Unknown lab mode {chosen!r}.", "use mode='offline' (the default) or mode='aws'.")
    _current = lab
    if not quiet:
        print(lab.describe())
    return lab


def current() -> Lab:
    """The lab set up in this kernel (setting it up offline if nobody has yet)."""
    return _current if _current is not None else setup(quiet=True)


def _quiet_library_warnings() -> None:
    # nbval compares stderr, and these third-party warnings carry install paths and versions.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="botocore")
    warnings.filterwarnings("ignore", message=".*datetime.datetime.utcnow.*")


def _png_figures() -> None:
    """Figures as PNG, including a bare ``Figure`` left as a cell's last value.

    PNG rather than SVG: SVG embeds random ids, which breaks output comparison. The lab's
    widget-free drawing functions return ``matplotlib.figure.Figure`` objects (no pyplot, so they
    work the same in widgets and tests); registering a PNG formatter makes them show as pictures.
    """
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        return
    if shell is None:
        return
    shell.run_line_magic("config", "InlineBackend.figure_formats = ['png']")
    from matplotlib.figure import Figure

    def to_png(fig: Figure) -> bytes:
        import io

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()

    shell.display_formatter.formatters["image/png"].for_type(Figure, to_png)
