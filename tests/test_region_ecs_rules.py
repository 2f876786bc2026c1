"""The offline region's ECS on Fargate rules, through boto3 as a learner calls them.

Every refusal is checked for AWS's exact error code, and for the exact message where the region
sets it; every rule also gets its good path. The task definitions follow the seed lessons
(my-app-frontend, cpu "256" / memory "512", container port 5000) and the console's notation
("0.25 vCPU", "0.5 GB").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

EXECUTION_ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
ECR_IMAGE = "123456789012.dkr.ecr.us-west-2.amazonaws.com/my-app-frontend:v1"


def fails(call: Any, **kwargs: Any) -> tuple[str, str]:
    """(code, message) of the ClientError ``call(**kwargs)`` raises; fails the test if it succeeds."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


@dataclass
class Lab:
    vpc: str
    a: str
    b: str
    sg: str
    other_sg: str
    other_subnet: str
    alb: str
    tg: str  # ip target group behind the ALB's port-80 listener
    lonely_tg: str  # ip target group no listener uses
    instance_tg: str  # instance target group behind the port-8080 listener


@pytest.fixture
def ecs(region: str) -> Any:
    import boto3

    return boto3.client("ecs", endpoint_url=region, region_name="us-west-2")


@pytest.fixture
def lab(region: str, ec2: Any) -> Lab:
    import boto3

    elbv2 = boto3.client("elbv2", endpoint_url=region, region_name="us-west-2")
    # EnableDnsHostnames stays off: moto used to crash on awsvpc tasks in such a VPC (bug B2).
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/20")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24", AvailabilityZone="us-west-2a")["Subnet"]["SubnetId"]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-west-2b")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="app-sg", Description="app", VpcId=vpc)["GroupId"]
    other = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=other, CidrBlock="10.1.0.0/24", AvailabilityZone="us-west-2a")["Subnet"][
        "SubnetId"
    ]
    other_sg = ec2.create_security_group(GroupName="other-sg", Description="other", VpcId=other)["GroupId"]
    alb = elbv2.create_load_balancer(Name="my-app-alb", Subnets=[a, b], SecurityGroups=[sg])["LoadBalancers"][0][
        "LoadBalancerArn"
    ]

    def group(name: str, target_type: str) -> str:
        return elbv2.create_target_group(Name=name, Protocol="HTTP", Port=5000, VpcId=vpc, TargetType=target_type)[
            "TargetGroups"
        ][0]["TargetGroupArn"]

    tg, lonely, instance_tg = group("tg-1", "ip"), group("tg-2", "ip"), group("tg-instance", "instance")
    for port, arn in ((80, tg), (8080, instance_tg)):
        elbv2.create_listener(
            LoadBalancerArn=alb, Protocol="HTTP", Port=port, DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}]
        )
    return Lab(vpc, a, b, sg, other_sg, other_subnet, alb, tg, lonely, instance_tg)


def container(**extra: Any) -> dict[str, Any]:
    """The seed lesson's container: no container-level memory, port 5000."""
    return {"name": "web", "image": "nginx:1.27", "portMappings": [{"containerPort": 5000}], **extra}


def fargate_td(**overrides: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "family": "my-app-frontend",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": EXECUTION_ROLE,
        "containerDefinitions": [container()],
    }
    definition.update(overrides)
    return {key: value for key, value in definition.items() if value is not None}


def register(ecs: Any, **overrides: Any) -> dict[str, Any]:
    return ecs.register_task_definition(**fargate_td(**overrides))["taskDefinition"]


def awsvpc(*subnets: str, groups: list[str] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"subnets": list(subnets), "assignPublicIp": "DISABLED"}
    if groups is not None:
        config["securityGroups"] = groups
    return {"awsvpcConfiguration": config}


# -- task definitions --------------------------------------------------------------------------------


def test_task_size_notation_is_normalised(ecs: Any) -> None:
    assert (register(ecs, cpu="0.25 vCPU", memory="0.5GB")["cpu"], register(ecs)["memory"]) == ("256", "512")
    stored = register(ecs, cpu="1 vCPU", memory="2 GB")
    assert (stored["cpu"], stored["memory"]) == ("1024", "2048")
    assert fails(ecs.register_task_definition, **fargate_td(cpu="lots")) == (
        "InvalidParameterException",
        "Invalid 'cpu' setting for task.",
    )


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [("256", "2048"), ("512", "3072"), ("1024", "8192"), ("2048", "16384"), ("4096", "30720"), ("16384", "122880")],
)
def test_fargate_sizes_accepted(ecs: Any, cpu: str, memory: str) -> None:
    assert register(ecs, cpu=cpu, memory=memory)["memory"] == memory


def test_fargate_task_definition_rules(ecs: Any) -> None:
    def refused(**overrides: Any) -> tuple[str, str]:
        return fails(ecs.register_task_definition, **fargate_td(**overrides))

    assert refused(cpu="256", memory="4096") == (
        "ClientException",
        "No Fargate configuration exists for given values: 256 CPU, 4096 memory. "
        "See the Amazon ECS documentation for the valid values.",
    )
    assert refused(cpu="1024", memory="512")[0] == "ClientException"
    assert refused(cpu="8192", memory="18432")[0] == "ClientException"  # 8 vCPU steps by 4 GB
    assert refused(networkMode="bridge") == (
        "ClientException",
        "Fargate only supports network mode \u2018awsvpc\u2019.",
    )
    assert refused(networkMode=None)[0] == "ClientException"
    assert refused(cpu=None) == ("ClientException", "Fargate requires that 'cpu' be defined at the task level.")
    assert refused(memory=None) == ("ClientException", "Fargate requires that 'memory' be defined at the task level.")
    assert refused(executionRoleArn=None, containerDefinitions=[container(image=ECR_IMAGE)]) == (
        "ClientException",
        "Fargate requires task definition to have execution role ARN to support ECR images.",
    )
    logs = {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/web", "awslogs-region": "us-west-2"}}
    assert refused(executionRoleArn=None, containerDefinitions=[container(logConfiguration=logs)]) == (
        "ClientException",
        "Fargate requires task definition to have execution role ARN to support log driver awslogs.",
    )
    assert register(ecs, containerDefinitions=[container(image=ECR_IMAGE)])["executionRoleArn"] == EXECUTION_ROLE
    # A public image needs no execution role.
    register(ecs, executionRoleArn=None)


def test_container_rules(ecs: Any) -> None:
    def refused(**overrides: Any) -> tuple[str, str]:
        return fails(ecs.register_task_definition, **fargate_td(**overrides))

    assert refused(containerDefinitions=[]) == ("ClientException", "Container list cannot be empty.")
    code, message = refused(containerDefinitions=[container(), container()])
    assert code == "ClientException" and "'web'" in message
    assert refused(containerDefinitions=[container(essential=False)]) == (
        "ClientException",
        "Task definition doesn't have any essential container.",
    )
    assert refused(containerDefinitions=[container(portMappings=[{"containerPort": 5000, "hostPort": 80}])]) == (
        "ClientException",
        "When networkMode=awsvpc, the host ports and container ports in port mappings must match.",
    )
    assert refused(containerDefinitions=[container(cpu=512)]) == (
        "ClientException",
        "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.",
    )
    sidecar = {"name": "log-router", "image": "fluent-bit:3", "essential": False}
    stored = register(
        ecs, containerDefinitions=[container(portMappings=[{"containerPort": 5000, "hostPort": 5000}]), sidecar]
    )
    assert [c["name"] for c in stored["containerDefinitions"]] == ["web", "log-router"]
    # The container keeps its shape: no container memory appears that the learner did not set.
    assert "memory" not in stored["containerDefinitions"][0]


# -- services and tasks ------------------------------------------------------------------------------


def test_cluster_must_exist(ecs: Any, lab: Lab) -> None:
    register(ecs)
    assert fails(ecs.create_service, cluster="nope", serviceName="web", taskDefinition="my-app-frontend") == (
        "ClusterNotFoundException",
        "Cluster not found.",
    )
    assert fails(ecs.run_task, cluster="nope", taskDefinition="my-app-frontend", launchType="FARGATE")[0] == (
        "ClusterNotFoundException"
    )


def test_awsvpc_needs_network_configuration(ecs: Any, lab: Lab) -> None:
    ecs.create_cluster(clusterName="lab")
    register(ecs)

    def create(**kwargs: Any) -> tuple[str, str]:
        base = {"cluster": "lab", "serviceName": "web", "taskDefinition": "my-app-frontend", "launchType": "FARGATE"}
        return fails(ecs.create_service, **{**base, **kwargs})

    assert create() == (
        "InvalidParameterException",
        "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
    )
    assert create(networkConfiguration=awsvpc()) == ("InvalidParameterException", "subnets can not be empty.")
    assert create(networkConfiguration=awsvpc("subnet-0000dead")) == (
        "InvalidParameterException",
        "Error retrieving subnet information for [subnet-0000dead]: The subnet ID 'subnet-0000dead' does not exist "
        "(ErrorCode: InvalidSubnetID.NotFound)",
    )
    assert create(networkConfiguration=awsvpc(lab.a, lab.other_subnet))[0] == "InvalidParameterException"
    assert create(networkConfiguration=awsvpc(lab.a, lab.b, groups=[lab.other_sg])) == (
        "InvalidParameterException",
        f"Security group {lab.other_sg} does not appear to belong to the same VPC as the input subnets.",
    )
    assert fails(ecs.run_task, cluster="lab", taskDefinition="my-app-frontend", launchType="FARGATE") == (
        "InvalidParameterException",
        "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
    )
    ecs.register_task_definition(family="classic", containerDefinitions=[container(memory=256)])
    assert create(taskDefinition="classic", networkConfiguration=awsvpc(lab.a)) == (
        "InvalidParameterException",
        "Task definition does not support launch_type FARGATE.",
    )
    assert create(taskDefinition="classic", launchType="EC2", networkConfiguration=awsvpc(lab.a)) == (
        "InvalidParameterException",
        "Network Configuration is not valid for the given networkMode of this task definition.",
    )


def test_run_task_on_fargate_without_container_memory(ecs: Any, lab: Lab) -> None:
    """moto crashed here twice: no container memory (B1) and no DNS hostnames in the VPC (B2)."""
    ecs.create_cluster(clusterName="lab")
    register(ecs)
    # No security groups: AWS uses the VPC's default group.
    tasks = ecs.run_task(
        cluster="lab", taskDefinition="my-app-frontend", launchType="FARGATE", networkConfiguration=awsvpc(lab.a)
    )["tasks"]
    assert len(tasks) == 1
    details = {item["name"]: item["value"] for item in tasks[0]["attachments"][0]["details"]}
    assert details["subnetId"] == lab.a
    assert details["privateDnsName"].startswith("ip-10-0-0-")


def test_service_load_balancer_wiring(ecs: Any, lab: Lab) -> None:
    ecs.create_cluster(clusterName="lab")
    register(ecs)

    def create(entry: dict[str, Any], name: str = "web") -> Any:
        return ecs.create_service(
            cluster="lab",
            serviceName=name,
            taskDefinition="my-app-frontend",
            launchType="FARGATE",
            desiredCount=1,
            networkConfiguration=awsvpc(lab.a, lab.b, groups=[lab.sg]),
            loadBalancers=[entry],
        )

    def refused(**entry: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as info:
            create({"targetGroupArn": lab.tg, "containerName": "web", "containerPort": 5000, **entry})
        return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]

    missing = lab.tg.replace("tg-1", "tg-9")
    assert refused(targetGroupArn=missing) == (
        "InvalidParameterException",
        "Unable to assume role and validate the specified targetGroupArn. "
        "Please verify that the ECS service role being passed has the proper permissions.",
    )
    assert refused(targetGroupArn=lab.lonely_tg) == (
        "InvalidParameterException",
        f"The target group with targetGroupArn {lab.lonely_tg} does not have an associated load balancer.",
    )
    assert refused(targetGroupArn=lab.instance_tg) == (
        "InvalidParameterException",
        f"The provided target group {lab.instance_tg} has target type instance, which is incompatible with the "
        "awsvpc network mode specified in the task definition.",
    )
    assert refused(containerName="web-stg") == (
        "InvalidParameterException",
        "The container web-stg does not exist in the task definition.",
    )
    assert refused(containerPort=80) == (
        "InvalidParameterException",
        "The container web did not have a container port 80 defined.",
    )
    service = create({"targetGroupArn": lab.tg, "containerName": "web", "containerPort": 5000})["service"]
    assert service["loadBalancers"][0]["containerName"] == "web"
    assert fails(
        ecs.create_service, cluster="lab", serviceName="web", taskDefinition="my-app-frontend", desiredCount=1
    ) == ("InvalidParameterException", "Creation of service was not idempotent.")
    assert fails(ecs.update_service, cluster="lab", service="web", desiredCount=-1)[0] == "InvalidParameterException"
    ecs.update_service(cluster="lab", service="web", desiredCount=2)


def test_deployment_controllers(ecs: Any, lab: Lab) -> None:
    ecs.create_cluster(clusterName="lab")
    register(ecs)
    register(ecs)  # revision 2
    network = awsvpc(lab.a, lab.b, groups=[lab.sg])
    entry = [{"targetGroupArn": lab.tg, "containerName": "web", "containerPort": 5000}]
    common = {"cluster": "lab", "launchType": "FARGATE", "networkConfiguration": network, "desiredCount": 1}
    ecs.create_service(
        serviceName="blue-green",
        taskDefinition="my-app-frontend:1",
        loadBalancers=entry,
        deploymentController={"type": "CODE_DEPLOY"},
        **common,
    )
    assert fails(ecs.update_service, cluster="lab", service="blue-green", taskDefinition="my-app-frontend:2") == (
        "InvalidParameterException",
        "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
        "Use AWS CodeDeploy to trigger a new deployment.",
    )
    ecs.update_service(cluster="lab", service="blue-green", desiredCount=2)
    ecs.create_service(serviceName="rolling", taskDefinition="my-app-frontend:1", **common)
    ecs.update_service(cluster="lab", service="rolling", taskDefinition="my-app-frontend:2")
    task_set = {"cluster": "lab", "taskDefinition": "my-app-frontend:2", "launchType": "FARGATE"}
    assert fails(ecs.create_task_set, service="rolling", networkConfiguration=network, **task_set) == (
        "InvalidParameterException",
        "Amazon ECS only supports task set management on services configured to use external deployment controllers.",
    )
    ecs.create_service(cluster="lab", serviceName="external", deploymentController={"type": "EXTERNAL"}, desiredCount=1)
    assert fails(ecs.create_task_set, service="external", **task_set)[1] == (
        "Network Configuration must be provided when networkMode 'awsvpc' is specified."
    )
    created = ecs.create_task_set(
        service="external", networkConfiguration=network, scale={"value": 0, "unit": "PERCENT"}, **task_set
    )
    assert created["taskSet"]["taskDefinition"].endswith("my-app-frontend:2")
