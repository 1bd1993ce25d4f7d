"""`resolve:ssm:` image ids at launch, with real instances: RunInstances and
launch templates resolve a Parameter Store parameter to its image when they
launch. Needs root (CI runs as root)."""

from typing import Any

from instance_api import launch

from api_helpers import code_of, error_of


def put_image(ssm: Any, name: str, image_id: str, **params: Any) -> None:
    ssm.put_parameter(Name=name, Value=image_id, Type="String", DataType="aws:ec2:image", **params)


def image_of(ec2: Any, instance_id: str) -> str:
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservation["Instances"][0]["ImageId"])


def test_launches_resolve_the_parameter(clients: tuple[Any, Any], image: str) -> None:
    ec2, ssm = clients
    put_image(ssm, "/golden", image)
    put_image(ssm, "/golden", image, Overwrite=True)
    ssm.label_parameter_version(Name="/golden", ParameterVersion=1, Labels=["stable"])
    (by_name,) = launch(ec2, "resolve:ssm:/golden")
    assert image_of(ec2, by_name) == image
    template = ec2.create_launch_template(
        LaunchTemplateName="golden", LaunchTemplateData={"ImageId": "resolve:ssm:/golden:stable"}
    )["LaunchTemplate"]
    reservation = ec2.run_instances(
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]}, MinCount=1, MaxCount=1
    )
    (from_template,) = reservation["Instances"]
    assert from_template["ImageId"] == image
    ec2.get_waiter("instance_running").wait(
        InstanceIds=[from_template["InstanceId"]], WaiterConfig={"Delay": 0.2}
    )
    (kept,) = ec2.describe_launch_template_versions(LaunchTemplateName="golden")[
        "LaunchTemplateVersions"
    ]
    assert kept["LaunchTemplateData"]["ImageId"] == "resolve:ssm:/golden:stable"


def test_launches_refuse_what_does_not_resolve_to_a_usable_image(
    clients: tuple[Any, Any], image: str
) -> None:
    ec2, ssm = clients
    put_image(ssm, "/golden", image)
    ssm.put_parameter(Name="/text", Value=image, Type="String")
    for alias in ("resolve:ssm:/missing", "resolve:ssm:/golden:2", "resolve:ssm:/text"):
        refused = error_of(ec2.run_instances, ImageId=alias, MinCount=1, MaxCount=1)
        assert refused["Code"] == "SsmInvalidParameter", alias
    ec2.disable_image(ImageId=image)  # the parameter still names it
    assert code_of(ec2.run_instances, ImageId="resolve:ssm:/golden", MinCount=1, MaxCount=1) == (
        "InvalidAMIID.Unavailable"
    )
    assert ec2.describe_instances()["Reservations"] == []
