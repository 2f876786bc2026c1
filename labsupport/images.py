"""Container images in the lab's ECR.

On AWS you build the sample app's image with Docker and push it to an ECR repository
(``docker build``, ``docker tag``, ``docker push``; see ``sample_app/README.md``). The offline lab
has no Docker, so :func:`push` does what a push leaves behind: the repository exists and holds an
image manifest under the tag. The manifest's config digest is computed from the sample app's source,
so changing the app changes the digest, as rebuilding an image would.

Every lab image runs the sample app; versions differ by the task definition's environment
(``APP_VERSION``, ``APP_COLOUR``, ...), which works the same on real AWS.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from .errors import LabError
from .lab import Lab, current

APP_DIR = Path(__file__).resolve().parents[1] / "sample_app"
_NAME = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def parse_reference(reference: str) -> tuple[str, str]:
    """``"my-app-frontend:v1"`` → ``("my-app-frontend", "v1")``; the tag defaults to ``latest``."""
    name, _, tag = reference.strip().partition(":")
    tag = tag or "latest"
    if not _NAME.match(name) or len(name) > 256:
        raise LabError(
            f"{name!r} is not a valid ECR repository name.",
            "use lower-case letters, digits and - _ . / only, e.g. my-app-frontend.",
        )
    if not _TAG.match(tag):
        raise LabError(f"{tag!r} is not a valid image tag.", "use letters, digits, _ . - (up to 128), e.g. v1.")
    return name, tag


def app_digest() -> str:
    """sha256 over the sample app's source files: the 'image' changes when the app does."""
    digest = hashlib.sha256()
    for path in sorted(APP_DIR.glob("*.py")) + sorted(APP_DIR.glob("Dockerfile")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()


def manifest() -> str:
    """A Docker image manifest (schema 2) whose config is the sample app's digest."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": app_digest(),
            },
            "layers": [],
        },
        separators=(",", ":"),
    )


def ensure_repository(lab: Lab, name: str) -> dict[str, Any]:
    """The ECR repository ``name``, created (tagged as the lab's) if missing."""
    ecr = lab.client("ecr")
    try:
        return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ecr.exceptions.RepositoryNotFoundException:
        return ecr.create_repository(repositoryName=name, tags=lab.tag_list(name))["repository"]


def push(reference: str, lab: Lab | None = None) -> str:
    """Put the sample app into the lab's ECR as ``REPO:TAG``; returns the image URI.

    Pushing the same tag again is fine (the repository is MUTABLE, as ECR's default is).
    """
    lab = lab or current()
    name, tag = parse_reference(reference)
    if not lab.offline:
        raise LabError(
            "On real AWS an image is pushed with Docker, not by the lab.",
            "follow 'Push to a real ECR' in sample_app/README.md (docker build, tag, push).",
        )
    repo = ensure_repository(lab, name)
    ecr = lab.client("ecr")
    body = manifest()
    existing = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": tag}])["images"]
    if not existing or existing[0]["imageManifest"] != body:
        ecr.put_image(repositoryName=name, imageManifest=body, imageTag=tag)
    return f"{repo['repositoryUri']}:{tag}"


def uri(reference: str, lab: Lab | None = None) -> str:
    """The full image URI for ``REPO:TAG`` in the lab's account and region (whether pushed or not)."""
    lab = lab or current()
    name, tag = parse_reference(reference)
    account = "123456789012" if lab.offline else lab.client("sts").get_caller_identity()["Account"]
    return f"{account}.dkr.ecr.{lab.region}.amazonaws.com/{name}:{tag}"


def exists(reference: str, lab: Lab | None = None) -> bool:
    """Whether ECR holds ``REPO:TAG`` now (what a task's image pull will find). Works on AWS too."""
    lab = lab or current()
    name, tag = parse_reference(reference)
    ecr = lab.client("ecr")
    try:
        found = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])["imageDetails"]
    except (ecr.exceptions.RepositoryNotFoundException, ecr.exceptions.ImageNotFoundException):
        return False
    return bool(found)


def pushed_tags(repository: str, lab: Lab | None = None) -> list[str]:
    """The tags in an ECR repository, sorted (empty when the repository does not exist)."""
    lab = lab or current()
    name, _ = parse_reference(repository)
    ecr = lab.client("ecr")
    tags: set[str] = set()
    try:
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=name):
            for image in page["imageDetails"]:
                tags.update(image.get("imageTags") or [])
    except ecr.exceptions.RepositoryNotFoundException:
        return []
    return sorted(tags)
