"""Chapter 05's predict-then-check exercises: Fargate task sizes, task addresses, the execution role.

Every answer is worked out now, from the live region (the registered task definition, the service's
subnets and tasks, the network interfaces in those subnets, the role's attached policies) or from
:data:`labsupport.fargate.FARGATE_SIZES`, AWS's own table, which the tests hold against what the
region accepts. Explanations name resources by name, subnets by their Name tags and tasks by their
private IPs: IDs differ from run to run and a notebook's output must not.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from . import fargate
from .errors import LabError
from .exercises import exercise
from .lab import Lab, current

#: The task size of the lab's task definition, which the size question is about.
LAB_CPU = 256

_GB = re.compile(r"^(\d+(?:\.\d+)?)\s*(gb|gib|g)$")
_MB = re.compile(r"^(\d+)\s*(mb|mib|m)?$")


# -- 1. which memory sizes go with 256 CPU units ------------------------------------------------


def _to_mib(value: object) -> int | None:
    """512, "512", "512 MiB", "0.5GB", "1 GB" -> MiB; anything else (True, 0.5, "lots") -> None."""
    if isinstance(value, bool | float):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    match = _GB.match(text)
    if match:
        mib = float(match.group(1)) * 1024
        return int(mib) if mib.is_integer() else None
    match = _MB.match(text)
    return int(match.group(1)) if match else None


def _sizes_same(predicted: object, truth: object) -> bool:
    """The same set of memory sizes, in MiB or GB, in any order; one bare value is not a set."""
    if isinstance(predicted, str | bytes) or not isinstance(predicted, list | tuple | set | frozenset):
        return False
    mib = [_to_mib(p) for p in predicted]
    if None in mib:
        return False
    return set(mib) == set(truth) and len(mib) == len(set(mib))  # type: ignore[arg-type]


def _registered_size(lab: Lab) -> tuple[str, str] | None:
    ecs = lab.client("ecs")
    try:
        td = ecs.describe_task_definition(taskDefinition=lab.config.raw["ecs"]["family"])["taskDefinition"]
    except ecs.exceptions.ClientException:
        return None
    return str(td.get("cpu")), str(td.get("memory"))


def _explain_sizes(truth: list[int]) -> str:
    sizes = ", ".join(f"{m} MiB ({m / 1024:g} GB)" for m in truth)
    bigger = next(c for c in fargate.FARGATE_SIZES if c > LAB_CPU)
    text = (
        f"With {LAB_CPU} CPU units (.25 vCPU) Fargate offers exactly {len(truth)} memory sizes: {sizes}. "
        f"More memory needs more CPU: {fargate.memory_choices(bigger)[-1]} MiB needs at least {bigger} CPU units, "
        "so cpu 256 / memory 4096 is refused when you register it."
    )
    registered = _registered_size(current())
    if registered is not None:
        family = current().config.raw["ecs"]["family"]
        text += f" {family} is registered with cpu {registered[0]} / memory {registered[1]}"
        text += ": the smallest size, and the cheapest." if registered == ("256", "512") else "."
    return text


@exercise(
    "05-fargate-memory-256",
    "The task definition asks for cpu 256 (.25 vCPU). Which memory sizes (MiB) may it ask for on Fargate? "
    "Give all of them, e.g. [512, 4096].",
    _explain_sizes,
    same=_sizes_same,
)
def _sizes_for_256() -> list[int]:
    return list(fargate.memory_choices(LAB_CPU))


# -- 2. which addresses the first two tasks get --------------------------------------------------


def _service(lab: Lab) -> dict[str, Any]:
    cfg = lab.config.raw["ecs"]
    ecs = lab.client("ecs")
    try:
        found = ecs.describe_services(cluster=cfg["cluster"], services=[cfg["service"]])["services"]
    except ecs.exceptions.ClusterNotFoundException:
        found = []
    service = next((s for s in found if s.get("status") == "ACTIVE"), None)
    if service is None:
        raise LabError(
            f"The service {cfg['service']} does not exist yet, so no task has an address.",
            f"run the cells of section 5 that create the cluster {cfg['cluster']} and the service, "
            "then this cell again.",
        )
    return service


def _first_free(network: ipaddress.IPv4Network, used: set[str]) -> str | None:
    # AWS reserves the first four addresses and the last one of every subnet.
    for offset in range(4, network.num_addresses - 1):
        candidate = str(network.network_address + offset)
        if candidate not in used:
            return candidate
    return None


def _first_addresses(lab: Lab) -> list[tuple[str, str, str, int, bool]]:
    """Per subnet of the service: (subnet name, CIDR, address, other interfaces there, task exists)."""
    service = _service(lab)
    subnet_ids = service["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
    ec2 = lab.client("ec2")
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]}
    rows = fargate.tasks(lab)
    answer = []
    for subnet_id in subnet_ids:
        subnet = subnets[subnet_id]
        name = next((t["Value"] for t in subnet.get("Tags", []) if t["Key"] == "Name"), subnet_id)
        network = ipaddress.ip_network(subnet["CidrBlock"])
        mine = sorted((r.ip for r in rows if r.subnet == name and r.ip), key=ipaddress.ip_address)
        enis = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet_id]}])
        used = {str(e.get("PrivateIpAddress")) for e in enis["NetworkInterfaces"]}
        others = len(used - set(mine))
        if mine:
            answer.append((name, str(network), mine[0], others, True))
        else:
            answer.append((name, str(network), _first_free(network, used) or "none: the subnet is full", others, False))
    return answer


def _ips_same(predicted: object, truth: object) -> bool:
    if isinstance(predicted, str | bytes) or not isinstance(predicted, list | tuple | set | frozenset):
        return False
    try:
        mine = [str(ipaddress.ip_address(str(p).strip())) for p in predicted]
    except ValueError:
        return False
    return sorted(mine) == sorted(truth)  # type: ignore[arg-type]


def _explain_ips(truth: list[str]) -> str:
    rows = _first_addresses(current())
    parts = []
    for name, cidr, address, others, running in rows:
        base = ipaddress.ip_network(cidr).network_address
        where = "has" if running else "will get"
        crowd = "nothing else has an address there" if others == 0 else f"{others} other interface(s) hold addresses"
        parts.append(
            f"the task in {name} ({cidr}) {where} {address} (base+{int(ipaddress.ip_address(address)) - int(base)}; "
            f"{crowd})"
            if address[0].isdigit()
            else f"{name} ({cidr}) has no free address left"
        )
    return (
        f"ECS spreads the service's tasks over its {len(rows)} subnets, one per Availability Zone; each task "
        "gets its own network interface (awsvpc) with an address of its subnet. AWS reserves .0 to .3 and the "
        f"last address, so the first free one is base+4: {'; '.join(parts)}. The offline region always hands "
        "out the lowest free address; AWS picks any free one, so on AWS expect other numbers, but always "
        "inside the subnet and never a reserved one."
    )


@exercise(
    "05-first-task-ips",
    "The service starts 2 tasks in the private subnets my-workspace-subnet-app-private1-a (10.0.0.0/24) and "
    "my-workspace-subnet-app-private2-b (10.0.2.0/24). Which private IPs will the first two tasks get? "
    "e.g. ['10.0.0.1', '10.0.2.1']",
    _explain_ips,
    same=_ips_same,
)
def _first_task_ips() -> list[str]:
    return sorted(
        (address for _, _, address, _, _ in _first_addresses(current()) if address[0].isdigit()),
        key=ipaddress.ip_address,
    )


# -- 3. which role pulls the image ---------------------------------------------------------------

_EXECUTION = {"executionrole", "execution", "taskexecutionrole", "ecstaskexecutionrole", "theexecutionrole"}
_TASK = {"taskrole", "task", "thetaskrole"}


def _words(value: object) -> str:
    return "".join(ch for ch in str(value).lower() if ch.isalnum())


def _role_same(predicted: object, truth: object) -> bool:
    if not isinstance(predicted, str):
        return False
    word = _words(predicted)
    return word in (_EXECUTION if truth == "execution role" else _TASK)


def _task_definition(lab: Lab) -> dict[str, Any]:
    family = lab.config.raw["ecs"]["family"]
    ecs = lab.client("ecs")
    try:
        return dict(ecs.describe_task_definition(taskDefinition=family)["taskDefinition"])
    except ecs.exceptions.ClientException:
        raise LabError(
            f"The task definition {family} is not registered yet, so no role is named in it.",
            "run the cells of section 3 that register it, then this cell again.",
        ) from None


def _explain_role(truth: str) -> str:
    lab = current()
    td = _task_definition(lab)
    role = str(td.get("executionRoleArn") or "").rsplit("/", 1)[-1]
    iam = lab.client("iam")
    try:
        attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]
    except iam.exceptions.NoSuchEntityException:
        attached = []
    policies = ", ".join(attached) if attached else "no policy yet (attach AmazonECSTaskExecutionRolePolicy)"
    task_role = str(td.get("taskRoleArn") or "").rsplit("/", 1)[-1]
    task_text = (
        f"Its task role {task_role} is what the app's own AWS calls use."
        if task_role
        else "It names no task role: the app itself calls no AWS API, so it needs none."
    )
    return (
        f"ECS (the Fargate agent), not your app, pulls the image from ECR and sends the logs to CloudWatch, "
        f"before the container even starts, with the {truth}: {td['family']}:{td['revision']} names {role}, "
        f"trusted by ecs-tasks.amazonaws.com, with {policies}. {task_text}"
    )


@exercise(
    "05-pull-role",
    "Which role lets ECS pull my-app-frontend:v1 from ECR: the 'execution role' or the 'task role'?",
    _explain_role,
    same=_role_same,
)
def _pull_role() -> str:
    td = _task_definition(current())
    if not td.get("executionRoleArn"):
        raise LabError(
            f"{td['family']}:{td['revision']} names no execution role, so nothing lets ECS pull a private image.",
            "set executionRoleArn to the ecsTaskExecutionRole of section 2 and register the task definition again.",
        )
    return "execution role"
