"""The AMI workflow, end to end, on amiable's embedded default (boto3 clients).

Bootstrap a base image; launch an instance; configure it through SSM;
prepare it; create a golden image; launch three instances from it and show
they are identical; copy the image to a second region and share it with a
second account, which launches it there; deprecate the old image.

Run it as root (instances are real namespaces and overlayfs):
    make demo            # or: python examples/ami_workflow.py [--home DIR]
"""

import argparse
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

import amiable
from amiable.cloud.core.home import Cloud
from amiable.tools import base_images, rootfs

say = Console(highlight=False, soft_wrap=True).print
WAIT = {"Delay": 0.5, "MaxAttempts": 600}
HOME_REGION, SECOND_REGION = "us-east-1", "eu-west-1"
TEAM = "222233334444"

WEB_PAGE = "<h1>Hello from the golden image</h1>"
SERVICE = """#!/bin/sh
# a tiny service: serve the page with busybox httpd
exec httpd -f -p 8080 -h /srv/www
"""
PREPARE = [  # what goes before imaging: nothing instance-specific may stay
    "rm -rf /tmp/* /var/tmp/*",
    "find /var/log -type f -exec sh -c ': > \"$1\"' _ {} \\;",
    "rm -f /root/.ash_history /root/.bash_history",
    ": > /etc/machine-id",
    "rm -f /etc/ssh/ssh_host_*",
]


def step(title: str) -> None:
    say(f"\n[bold cyan]▶ {title}[/bold cyan]")


def shell(ssm: Any, instance: str, *commands: str) -> str:
    """Run commands in the instance through SSM; their output."""
    sent = ssm.send_command(
        InstanceIds=[instance],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": list(commands)},
    )["Command"]
    ssm.get_waiter("command_executed").wait(
        CommandId=sent["CommandId"], InstanceId=instance, WaiterConfig=WAIT
    )
    done = ssm.get_command_invocation(CommandId=sent["CommandId"], InstanceId=instance)
    return str(done["StandardOutputContent"])


def launch(ec2: Any, image: str, count: int, name: str) -> list[str]:
    reservation = ec2.run_instances(
        ImageId=image,
        MinCount=count,
        MaxCount=count,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    ids = [i["InstanceId"] for i in reservation["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=WAIT)
    return ids


def bootstrap(cloud: Cloud) -> str:
    step("Bootstrap a base image (busybox), owned by the 'amazon' account")
    cloud.accounts.ensure("137112412989", "amazon", "AKIAAMAZONDEMO00", "demo-amazon-secret")
    amazon = amiable.Session(cloud=cloud, account="137112412989", region=HOME_REGION)
    with tempfile.TemporaryDirectory() as scratch:
        root = rootfs.busybox(Path(scratch) / "root")
        image = base_images.publish(
            amazon.client("ec2"),
            root,
            f"busybox-base-{datetime.now(UTC):%Y%m%d%H%M%S}",
            "BusyBox base image",
        )
    say(f"  base image {image}")
    return image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="data home (a temporary one by default)")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="ami-demo-"))
    cloud = Cloud(home)
    say(f"[bold]amiable — the AMI workflow[/bold] (data home {home})")
    session = amiable.Session(cloud=cloud, region=HOME_REGION)
    ec2, ssm = session.client("ec2"), session.client("ssm")

    base = bootstrap(cloud)
    found = ec2.describe_images(Owners=["amazon"])["Images"]
    say(f"  Owners=['amazon'] finds: {[i['Name'] for i in found]}")

    step("Launch a builder instance")
    (builder,) = launch(ec2, base, 1, "builder")
    say(f"  {builder} is running")

    step("Configure it through SSM: a web page and a service script")
    shell(
        ssm,
        builder,
        "mkdir -p /srv/www /etc/init.d",
        f"echo '{WEB_PAGE}' > /srv/www/index.html",
        f"cat > /etc/init.d/web <<'EOF'\n{SERVICE}EOF",
        "chmod +x /etc/init.d/web",
        "echo 'built on the builder' > /var/log/build.log; echo junk > /tmp/scratch",
    )
    say(shell(ssm, builder, "ls -l /srv/www /etc/init.d").rstrip())

    step("Prepare it: temp files, logs, shell history, machine-id, host keys")
    shell(ssm, builder, *PREPARE)
    say(f"  /tmp now holds: {shell(ssm, builder, 'ls -A /tmp | wc -l').strip()} entries")

    step("Create the golden image")
    golden = ec2.create_image(InstanceId=builder, Name="golden-web-1", Description="web server")[
        "ImageId"
    ]
    ec2.get_waiter("image_available").wait(ImageIds=[golden], WaiterConfig=WAIT)
    chain = ec2.get_image_ancestry(ImageId=golden)["ImageAncestryEntries"]
    say(f"  {golden}, lineage: {' ← '.join(e['ImageId'] for e in chain)}")

    step("Launch three instances from it and show they are identical")
    fleet = launch(ec2, golden, 3, "web")
    digests = {
        i: shell(
            ssm, i, "md5sum /srv/www/index.html /etc/init.d/web | cut -d' ' -f1 | tr '\\n' ' '"
        )
        for i in fleet
    }
    for instance, digest in digests.items():
        say(f"  {instance}: {digest.strip()}")
    say(f"  identical: [bold]{len(set(digests.values())) == 1}[/bold]")

    step(f"Copy the image to {SECOND_REGION} and share it with account {TEAM}")
    cloud.accounts.ensure(TEAM, "team", "AKIATEAMDEMO0000", "demo-team-secret")
    second = amiable.Session(cloud=cloud, region=SECOND_REGION).client("ec2")
    copy = second.copy_image(SourceImageId=golden, SourceRegion=HOME_REGION, Name="golden-web-1")[
        "ImageId"
    ]
    second.get_waiter("image_available").wait(ImageIds=[copy], WaiterConfig=WAIT)
    second.modify_image_attribute(ImageId=copy, LaunchPermission={"Add": [{"UserId": TEAM}]})
    say(f"  copy {copy} in {SECOND_REGION}, shared with {TEAM}")

    team = amiable.Session(cloud=cloud, account=TEAM, region=SECOND_REGION)
    team_ec2, team_ssm = team.client("ec2"), team.client("ssm")
    (theirs,) = launch(team_ec2, copy, 1, "team-web")
    page = shell(team_ssm, theirs, "cat /srv/www/index.html").strip()
    say(f"  account {TEAM} launched {theirs} in {SECOND_REGION}: {page}")

    step("Deprecate the old base image")
    ec2_amazon = amiable.Session(cloud=cloud, account="137112412989", region=HOME_REGION)
    ec2_amazon.client("ec2").enable_image_deprecation(
        ImageId=base, DeprecateAt=datetime.now(UTC) + timedelta(minutes=1)
    )
    cloud.clock.advance(timedelta(minutes=2))
    visible = [i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]]
    say(f"  {base} deprecated; other accounts' listings now show: {visible or 'nothing'}")

    step("Clean up: terminate every instance")
    ec2.terminate_instances(InstanceIds=[builder, *fleet])
    team_ec2.terminate_instances(InstanceIds=[theirs])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[builder, *fleet], WaiterConfig=WAIT)
    say("[bold green]done[/bold green]")
    return 0


if __name__ == "__main__":
    from amiable.runtime.errors import RuntimeUnavailable
    from amiable.runtime.sandbox import require_support

    try:
        require_support()
    except RuntimeUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(main())
