"""Chapter 03's predict-then-check exercises: right reference answers, fair judging, live answers.

Each test gets a freshly reset offline region with the lab network built by ``network.build`` (what
chapters 02 and 03 leave behind), and a :class:`Lab` connected to it as the kernel's current lab.
"""

from __future__ import annotations

import re

import pytest

import labsupport.lab
from labsupport import config, network, packetwalk, topology
from labsupport.errors import LabError
from labsupport.exercises import answer, check, get
from labsupport.exercises_security import ALB_PUBLIC_IP, OTHER_IP
from labsupport.lab import Lab

ID = re.compile(r"\b(?:vpc|subnet|rtb|igw|nat|sg|eni)-[0-9a-f]{8,17}\b")

# key -> (reference answer, predictions that count as right, predictions that must not)
CASES = {
    "03-default-group-inbound": ("itself", ["itself", " Itself ", "self", "the group itself"], ["nowhere", "anywhere"]),
    "03-internet-to-private-task": ("no", ["no", "No", False, "denied", "blocked"], ["yes", True, "maybe", 0]),
    "03-test-listener-other-ip": ("no", ["no", " NO ", False, "deny"], ["yes", True, "allowed", "9000"]),
}


@pytest.fixture(scope="module")
def module_lab(region_endpoint: str) -> Lab:
    # One Lab (and so one set of boto3 clients, which are slow to create) for the whole module.
    return Lab(mode="offline", region="us-west-2", config=config.load(), endpoint=region_endpoint)


@pytest.fixture
def lab(region: str, module_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> Lab:
    """The freshly reset test region, set as the kernel's current lab (what the exercises use)."""
    monkeypatch.setattr(labsupport.lab, "_current", module_lab)
    return module_lab


@pytest.fixture
def built(lab: Lab) -> network.Network:
    """What chapters 02 and 03 leave behind. Building takes seconds, so each test checks a lot."""
    return network.build(lab)


def _snapshot(lab: Lab, net: network.Network) -> topology.VpcSnapshot:
    return topology.snapshot(lab.client("ec2"), net.vpc_id)


@pytest.mark.usefixtures("built")
def test_reference_answers_are_right_and_judged_fairly(capsys: pytest.CaptureFixture[str]) -> None:
    for key, (truth, right, wrong) in CASES.items():
        assert answer(key) == truth, key
        for prediction in right:
            check(key, prediction)
            out = capsys.readouterr().out
            assert out.startswith("✔ right"), (key, prediction, out)
        for prediction in wrong:
            check(key, prediction)
            out = capsys.readouterr().out
            assert out.startswith("✘ not quite"), (key, prediction, out)
            assert repr(truth) in out, (key, out)
    # The explanations name the deciding hop by resource names: IDs differ between runs.
    for key, (truth, _, _) in CASES.items():
        check(key, truth)
    out = capsys.readouterr().out
    assert not ID.search(out), out
    assert "hop 1, the internet gateway my-workspace-igw" in out
    assert "hop 4, the security group my-app-lb-sg" in out
    assert "203.0.113.10/32" in out
    assert "from the default group itself" in out


def test_the_region_and_the_walks_agree_with_the_answers(lab: Lab, built: network.Network) -> None:
    snap = _snapshot(lab, built)
    default = snap.security_group("default")
    assert [(r.protocol, r.peer) for r in default.ingress] == [("all", default.id)]
    task = packetwalk.Endpoint(
        ip="10.0.0.10", subnet="my-workspace-subnet-app-private1-a", security_groups=["my-app-frontend-sg"]
    )
    alb = packetwalk.Endpoint(
        ip="10.0.1.10",
        subnet="my-workspace-subnet-app-public1-a",
        security_groups=["my-app-lb-sg"],
        public_ip=ALB_PUBLIC_IP,
    )
    to_task = packetwalk.walk(snap, OTHER_IP, task, 80)
    assert not to_task.allowed and to_task.blocked_at is to_task.hops[0]
    assert to_task.blocked_at.place.startswith("internet gateway")
    assert "no public IP" in to_task.blocked_at.reason
    other = packetwalk.walk(snap, OTHER_IP, alb, 9000)
    assert not other.allowed and other.blocked_at.place == "security group my-app-lb-sg"
    # The same listener from the learner's own IP is allowed, and so is port 80 from anybody.
    assert packetwalk.walk(snap, lab.config.my_ip, alb, 9000).allowed
    assert packetwalk.walk(snap, OTHER_IP, alb, 80).allowed
    assert packetwalk.walk(snap, alb, task, 80).allowed
    assert not packetwalk.walk(snap, alb, task, 22).allowed


@pytest.mark.parametrize("key", sorted(CASES))
def test_skipped_exercise_asks_for_a_prediction(key: str, capsys: pytest.CaptureFixture[str]) -> None:
    # No region call at all: a skipped exercise must work even before the network exists.
    check(key, None)
    assert capsys.readouterr().out.startswith("❓ " + get(key).question)


def test_answers_follow_the_live_groups(lab: Lab, built: network.Network, capsys: pytest.CaptureFixture[str]) -> None:
    ec2 = lab.client("ec2")
    lb = built.security_groups["my-app-lb-sg"]
    ec2.authorize_security_group_ingress(
        GroupId=lb,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 9000, "ToPort": 9000, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    assert answer("03-test-listener-other-ip") == "yes"
    check("03-test-listener-other-ip", "yes")
    assert "open wider than your IP" in capsys.readouterr().out
    default = _snapshot(lab, built).security_group("default")
    ec2.revoke_security_group_ingress(
        GroupId=default.id, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": default.id}]}]
    )
    assert answer("03-default-group-inbound") == "nowhere"
    ec2.authorize_security_group_ingress(
        GroupId=default.id, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    assert answer("03-default-group-inbound") == "anywhere"


@pytest.mark.usefixtures("lab")
def test_without_the_network_the_learner_is_told_to_catch_up() -> None:
    with pytest.raises(LabError, match=r"catch_up\(3\)"):
        answer("03-internet-to-private-task")


def test_without_the_groups_the_learner_is_told_to_create_them(lab: Lab) -> None:
    network.build(lab, security_groups=False)
    with pytest.raises(LabError, match="my-app-lb-sg"):
        answer("03-test-listener-other-ip")
    with pytest.raises(LabError, match="my-app-frontend-sg"):
        answer("03-internet-to-private-task")
