"""The AMI workflow, end to end, on amiable's embedded default (boto3 clients).

Bootstrap a base image; bake the golden image from examples/golden/web.yaml
with `ami bake` (build, test gate, copy to a second region, verify, share
with a second account, publish an SSM parameter); launch three instances
from the parameter and show they are identical; the second account launches
the copy in the second region; deprecate the old base image.

Run it as root (instances are real namespaces and overlayfs):
    make demo            # or: python examples/ami_workflow.py [--home DIR]
"""

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

import amiable
from amiable.cloud.core.home import Cloud
from amiable.tools import base_images, rootfs
from amiable.tools.bake.baking import bake
from amiable.tools.bake.pipeline import Options
from amiable.tools.bake.progress import Reporter
from amiable.tools.bake.recipe import Loaded
from amiable.tools.bake.resources import Clouds

say = Console(highlight=False, soft_wrap=True).print
WAIT = {"Delay": 0.5, "MaxAttempts": 600}
HOME_REGION, SECOND_REGION = "us-east-1", "eu-west-1"
TEAM = "222233334444"

GOLDEN = Path(__file__).resolve().parent / "golden"
PARAMETER = "/golden/web/latest"


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


def bake_golden(cloud: Cloud, home: Path) -> tuple[str, str]:
    """`ami bake` of examples/golden/web.yaml (copied into the data home, where
    the manifest, lock file and SBOM are written); the two regions' images."""
    step("Bake the golden image: ami bake examples/golden/web.yaml")
    recipe = home / "golden"
    shutil.copytree(GOLDEN, recipe, dirs_exist_ok=True)
    outcome = bake(
        Loaded(recipe / "web.yaml", {}),
        Clouds(lambda service, region: amiable.Session(cloud=cloud, region=region).client(service)),
        Options(build_region=HOME_REGION),
        Reporter(),
        target=f"home:{home}",
        state=home / "state",
    )
    images = outcome.manifest["images"]
    say(f"  published {images} (manifest {recipe / 'web.manifest.json'})")
    return images[HOME_REGION], images[SECOND_REGION]


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

    cloud.accounts.ensure(TEAM, "team", "AKIATEAMDEMO0000", "demo-team-secret")
    golden, copy = bake_golden(cloud, home)

    step(f"Launch three instances of resolve:ssm:{PARAMETER} ({golden}): identical?")
    fleet = launch(ec2, f"resolve:ssm:{PARAMETER}", 3, "web")
    digests = {
        i: shell(
            ssm, i, "md5sum /srv/www/index.html /etc/init.d/web | cut -d' ' -f1 | tr '\\n' ' '"
        )
        for i in fleet
    }
    for instance, digest in digests.items():
        say(f"  {instance}: {digest.strip()}")
    say(f"  identical: [bold]{len(set(digests.values())) == 1}[/bold]")

    team = amiable.Session(cloud=cloud, account=TEAM, region=SECOND_REGION)
    team_ec2, team_ssm = team.client("ec2"), team.client("ssm")
    step(f"Account {TEAM} launches the shared copy in {SECOND_REGION}")
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
    ec2.terminate_instances(InstanceIds=fleet)
    team_ec2.terminate_instances(InstanceIds=[theirs])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=fleet, WaiterConfig=WAIT)
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
