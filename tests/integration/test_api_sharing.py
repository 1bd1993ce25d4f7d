"""Who may see and touch an image or a snapshot: launch permissions,
createVolumePermission, block public access, through real boto3 clients.

Four accounts: the owner; `shared`, named in launch permissions; `member`, in
the owner's organization and OU; `stranger`, in another organization.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import amiable
from amiable.catalog.accounts import Membership
from amiable.cloud.core.home import Cloud
from api_helpers import imported_snapshot, register

ORG = "arn:aws:organizations::111111111111:organization/o-aaaaaaaaaa"
OU = "arn:aws:organizations::111111111111:ou/o-aaaaaaaaaa/ou-aaaa-11111111"
OTHER_ORG = "arn:aws:organizations::999999999999:organization/o-bbbbbbbbbb"
ACCOUNTS = {
    "owner": ("111111111111", Membership(ORG, OU)),
    "shared": ("222222222222", Membership(None, None)),
    "member": ("333333333333", Membership(ORG, OU)),
    "stranger": ("444444444444", Membership(OTHER_ORG, None)),
}


@pytest.fixture
def cloud(tmp_path: Path) -> Cloud:
    cloud = Cloud(tmp_path / "home")
    for name, (account_id, membership) in ACCOUNTS.items():
        cloud.accounts.create(account_id, name, f"AKIA{name.upper()}", f"secret-{name}", membership)
    return cloud


@pytest.fixture
def clients(cloud: Cloud) -> dict[str, Any]:
    return {
        name: amiable.Session(cloud=cloud, account=account_id, region="eu-west-1").client("ec2")
        for name, (account_id, _) in ACCOUNTS.items()
    }


@pytest.fixture
def image(clients: dict[str, Any], tmp_path: Path) -> str:
    return register(clients["owner"], imported_snapshot(clients["owner"], tmp_path / "r"), "base")


def listed(ec2: Any, **params: Any) -> list[str]:
    return [i["ImageId"] for i in ec2.describe_images(**params)["Images"]]


def error_code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return str(caught.value.response["Error"]["Code"])


def share(ec2: Any, image_id: str, *entries: dict[str, str]) -> None:
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": list(entries)})


SHARINGS: dict[str, list[dict[str, str]]] = {
    "private": [],
    "account": [{"UserId": "222222222222"}],
    "organization": [{"OrganizationArn": ORG}],
    "ou": [{"OrganizationalUnitArn": OU}],
    "public": [{"Group": "all"}],
}
SEES = {
    "private": {"owner"},
    "account": {"owner", "shared"},
    "organization": {"owner", "member"},
    "ou": {"owner", "member"},
    "public": {"owner", "shared", "member", "stranger"},
}


@pytest.mark.parametrize("sharing", sorted(SHARINGS))
def test_who_sees_an_image(clients: dict[str, Any], image: str, sharing: str) -> None:
    owner = clients["owner"]
    owner.disable_image_block_public_access()
    if SHARINGS[sharing]:
        share(owner, image, *SHARINGS[sharing])
    for name, ec2 in clients.items():
        allowed = name in SEES[sharing]
        assert listed(ec2) == ([image] if allowed else []), name
        if allowed:
            assert listed(ec2, ImageIds=[image]) == [image]
        else:
            assert error_code(ec2.describe_images, ImageIds=[image]) == "InvalidAMIID.NotFound"


def test_only_the_owner_modifies_and_reads_permissions(clients: dict[str, Any], image: str) -> None:
    share(clients["owner"], image, {"UserId": "222222222222"})
    shared = clients["shared"]
    for call, params in [
        (shared.modify_image_attribute, {"LaunchPermission": {"Add": [{"Group": "all"}]}}),
        (shared.describe_image_attribute, {"Attribute": "launchPermission"}),
        (shared.reset_image_attribute, {"Attribute": "launchPermission"}),
        (shared.disable_image, {}),
        (shared.deregister_image, {}),
    ]:
        assert error_code(call, ImageId=image, **params) == "AuthFailure"
    stranger = clients["stranger"]
    assert (
        error_code(stranger.describe_image_attribute, ImageId=image, Attribute="launchPermission")
        == "InvalidAMIID.NotFound"
    )
    assert listed(shared) == [image]  # nothing changed


def test_launch_permission_attribute_add_remove_reset(clients: dict[str, Any], image: str) -> None:
    owner = clients["owner"]
    share(owner, image, {"UserId": "222222222222"}, {"OrganizationArn": ORG})
    owner.modify_image_attribute(  # the older form of the same call
        ImageId=image,
        Attribute="launchPermission",
        OperationType="add",
        OrganizationalUnitArns=[OU],
    )
    permissions = owner.describe_image_attribute(ImageId=image, Attribute="launchPermission")
    assert permissions["LaunchPermissions"] == [
        {"OrganizationArn": ORG},
        {"OrganizationalUnitArn": OU},
        {"UserId": "222222222222"},
    ]
    owner.modify_image_attribute(
        ImageId=image, LaunchPermission={"Remove": [{"OrganizationArn": ORG}]}
    )
    assert listed(clients["member"]) == [image]  # still reached through the OU
    owner.reset_image_attribute(ImageId=image, Attribute="launchPermission")
    assert (
        owner.describe_image_attribute(ImageId=image, Attribute="launchPermission")[
            "LaunchPermissions"
        ]
        == []
    )
    assert listed(clients["shared"]) == listed(clients["member"]) == []


@pytest.mark.parametrize(
    "entry",
    [
        {"UserId": "12345"},
        {"Group": "everyone"},
        {"OrganizationArn": "arn:aws:organizations::1:organization/o-x"},
        {"OrganizationalUnitArn": ORG},
        {"UserId": "222222222222", "Group": "all"},
    ],
)
def test_an_invalid_entry_applies_nothing(
    clients: dict[str, Any], image: str, entry: dict[str, str]
) -> None:
    owner = clients["owner"]
    code = error_code(
        owner.modify_image_attribute,
        ImageId=image,
        LaunchPermission={"Add": [{"UserId": "222222222222"}, entry]},
    )
    assert code == "InvalidAMIAttributeItemValue"
    assert (
        owner.describe_image_attribute(ImageId=image, Attribute="launchPermission")[
            "LaunchPermissions"
        ]
        == []
    )
    assert listed(clients["shared"]) == []


def test_a_recipient_cancels_its_own_launch_permission(clients: dict[str, Any], image: str) -> None:
    share(clients["owner"], image, {"UserId": "222222222222"}, {"UserId": "444444444444"})
    assert clients["shared"].cancel_image_launch_permission(ImageId=image)["Return"] is True
    assert listed(clients["shared"]) == []
    assert listed(clients["stranger"]) == [image]
    code = error_code(clients["shared"].cancel_image_launch_permission, ImageId=image)
    assert code == "InvalidAMIID.NotFound"
    code = error_code(clients["owner"].cancel_image_launch_permission, ImageId=image)
    assert code == "InvalidParameter"


def test_tags_are_not_shared(clients: dict[str, Any], image: str) -> None:
    owner = clients["owner"]
    owner.create_tags(Resources=[image], Tags=[{"Key": "team", "Value": "platform"}])
    share(owner, image, {"UserId": "222222222222"})
    assert owner.describe_images(ImageIds=[image])["Images"][0]["Tags"] == [
        {"Key": "team", "Value": "platform"}
    ]
    assert clients["shared"].describe_images(ImageIds=[image])["Images"][0].get("Tags", []) == []


def test_owners_and_executable_users_scope_shared_images(
    clients: dict[str, Any], image: str, tmp_path: Path
) -> None:
    shared = clients["shared"]
    own = register(shared, imported_snapshot(shared, tmp_path / "s"), "own")
    share(clients["owner"], image, {"UserId": "222222222222"})
    assert sorted(listed(shared)) == sorted([image, own])
    assert listed(shared, Owners=["self"]) == [own]
    assert listed(shared, Owners=["owner"]) == [image]  # by alias
    assert listed(shared, ExecutableUsers=["self"]) == [image]
    assert listed(clients["member"], ExecutableUsers=["self"]) == []
    share(clients["owner"], image, {"OrganizationalUnitArn": OU})
    assert listed(clients["member"], ExecutableUsers=["self"]) == [image]


def test_image_block_public_access_blocks_new_public_sharing_only(
    cloud: Cloud, clients: dict[str, Any], image: str, tmp_path: Path
) -> None:
    owner = clients["owner"]
    state = owner.get_image_block_public_access_state()
    assert (state["ImageBlockPublicAccessState"], state["ManagedBy"]) == (
        "block-new-sharing",  # new accounts start blocked, as on AWS
        "account",
    )
    with pytest.raises(ClientError) as caught:
        share(owner, image, {"Group": "all"})
    assert caught.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert listed(clients["stranger"]) == []
    owner.disable_image_block_public_access()
    share(owner, image, {"Group": "all"})
    assert owner.describe_images(ImageIds=[image])["Images"][0]["Public"] is True
    answer = owner.enable_image_block_public_access(ImageBlockPublicAccessState="block-new-sharing")
    assert answer["ImageBlockPublicAccessState"] == "block-new-sharing"
    assert listed(clients["stranger"]) == [image]  # already public: stays public
    other = register(owner, imported_snapshot(owner, tmp_path / "o"), "other")
    with pytest.raises(ClientError):
        share(owner, other, {"Group": "all"})
    share(owner, other, {"UserId": "222222222222"})  # sharing with accounts still works
    elsewhere = amiable.Session(cloud=cloud, account="111111111111", region="us-east-2")
    state = elsewhere.client("ec2").get_image_block_public_access_state()
    assert state["ImageBlockPublicAccessState"] == "block-new-sharing"  # per region
    owner.disable_image_block_public_access()
    assert (
        elsewhere.client("ec2").get_image_block_public_access_state()["ImageBlockPublicAccessState"]
        == "block-new-sharing"
    )


def test_disabled_images_lose_permissions_and_hide(clients: dict[str, Any], image: str) -> None:
    owner = clients["owner"]
    owner.disable_image_block_public_access()
    share(owner, image, {"UserId": "222222222222"}, {"Group": "all"})
    assert owner.disable_image(ImageId=image)["Return"] is True
    assert listed(owner) == []
    assert listed(owner, IncludeDisabled=True) == [image]
    described = owner.describe_images(ImageIds=[image])["Images"][0]
    assert (described["State"], described["Public"]) == ("disabled", False)
    assert listed(clients["shared"], IncludeDisabled=True) == []
    assert listed(clients["stranger"], IncludeDisabled=True) == []
    with pytest.raises(ClientError) as caught:
        share(owner, image, {"UserId": "222222222222"})
    assert caught.value.response["Error"]["Code"] == "OperationNotPermitted"
    assert error_code(owner.disable_image, ImageId=image) == "IncorrectState"
    owner.enable_image(ImageId=image)
    assert listed(owner) == [image]
    assert listed(clients["shared"]) == []  # lost permissions are not restored
    share(owner, image, {"UserId": "222222222222"})
    assert listed(clients["shared"]) == [image]


def test_snapshots_follow_create_volume_permission(clients: dict[str, Any], tmp_path: Path) -> None:
    owner, shared = clients["owner"], clients["shared"]
    snapshot = imported_snapshot(owner, tmp_path / "r")

    def visible(ec2: Any, **params: Any) -> list[str]:
        return [s["SnapshotId"] for s in ec2.describe_snapshots(**params)["Snapshots"]]

    assert visible(shared) == []
    assert error_code(shared.describe_snapshots, SnapshotIds=[snapshot]) == (
        "InvalidSnapshot.NotFound"
    )
    owner.modify_snapshot_attribute(
        SnapshotId=snapshot, CreateVolumePermission={"Add": [{"UserId": "222222222222"}]}
    )
    assert visible(shared) == [snapshot]
    assert visible(shared, RestorableByUserIds=["self"]) == [snapshot]
    assert visible(shared, OwnerIds=["self"]) == []
    assert visible(clients["stranger"]) == []
    volume = shared.create_volume(SnapshotId=snapshot, AvailabilityZone="eu-west-1a")
    assert volume["SnapshotId"] == snapshot
    copy = shared.copy_snapshot(SourceSnapshotId=snapshot, SourceRegion="eu-west-1")
    shared.get_waiter("snapshot_completed").wait(
        SnapshotIds=[copy["SnapshotId"]], WaiterConfig={"Delay": 0.2}
    )
    copied = shared.describe_snapshots(SnapshotIds=[copy["SnapshotId"]])["Snapshots"][0]
    assert copied["OwnerId"] == "222222222222"  # the copy is the caller's
    attribute = owner.describe_snapshot_attribute(
        SnapshotId=snapshot, Attribute="createVolumePermission"
    )
    assert attribute["CreateVolumePermissions"] == [{"UserId": "222222222222"}]
    assert (
        error_code(
            shared.modify_snapshot_attribute,
            SnapshotId=snapshot,
            CreateVolumePermission={"Add": [{"Group": "all"}]},
        )
        == "InvalidSnapshot.NotFound"
    )
    owner.reset_snapshot_attribute(SnapshotId=snapshot, Attribute="createVolumePermission")
    assert visible(shared) == [copy["SnapshotId"]]


def test_snapshot_block_public_access(clients: dict[str, Any], tmp_path: Path) -> None:
    owner, stranger = clients["owner"], clients["stranger"]
    snapshot = imported_snapshot(owner, tmp_path / "r")
    assert owner.get_snapshot_block_public_access_state()["State"] == "unblocked"
    owner.modify_snapshot_attribute(
        SnapshotId=snapshot, CreateVolumePermission={"Add": [{"Group": "all"}]}
    )
    assert [s["SnapshotId"] for s in stranger.describe_snapshots()["Snapshots"]] == [snapshot]
    owner.enable_snapshot_block_public_access(State="block-all-sharing")
    assert stranger.describe_snapshots()["Snapshots"] == []  # hidden while blocked
    owner.enable_snapshot_block_public_access(State="block-new-sharing")
    assert [s["SnapshotId"] for s in stranger.describe_snapshots()["Snapshots"]] == [snapshot]
    other = imported_snapshot(owner, tmp_path / "o")
    assert (
        error_code(
            owner.modify_snapshot_attribute,
            SnapshotId=other,
            CreateVolumePermission={"Add": [{"Group": "all"}]},
        )
        == "OperationNotPermitted"
    )
    owner.disable_snapshot_block_public_access()
    assert owner.get_snapshot_block_public_access_state()["State"] == "unblocked"


COPIERS = {
    "private": {"owner"},
    "account": {"owner", "shared"},
    "public": {"owner", "shared", "member", "stranger"},
    "disabled": set(),  # a disabled image cannot be copied, not even by its owner
    "deprecated": {"owner", "shared"},  # deprecation hides, it does not forbid
}


@pytest.mark.parametrize("state", sorted(COPIERS))
def test_who_copies_an_image(
    cloud: Cloud, clients: dict[str, Any], tmp_path: Path, state: str
) -> None:
    owner = clients["owner"]
    owner.disable_image_block_public_access()
    snapshot = imported_snapshot(owner, tmp_path / "r")
    image = register(owner, snapshot, "source")
    grants = {
        "account": [{"UserId": "222222222222"}],
        "public": [{"Group": "all"}],
        "deprecated": [{"UserId": "222222222222"}],
        "disabled": [{"UserId": "222222222222"}],
    }
    for entry in grants.get(state, []):
        share(owner, image, entry)
        owner.modify_snapshot_attribute(
            SnapshotId=snapshot, CreateVolumePermission={"Add": [entry]}
        )
    if state == "disabled":
        owner.disable_image(ImageId=image)
    if state == "deprecated":
        owner.enable_image_deprecation(
            ImageId=image, DeprecateAt=datetime.now(UTC) + timedelta(days=1)
        )
        cloud.clock.advance(timedelta(days=2))
    for name, ec2 in clients.items():
        call = {"SourceImageId": image, "SourceRegion": "eu-west-1", "Name": f"copy-by-{name}"}
        if name in COPIERS[state]:
            copy = ec2.copy_image(**call)["ImageId"]
            ec2.get_waiter("image_available").wait(ImageIds=[copy], WaiterConfig={"Delay": 0.2})
        else:
            assert error_code(ec2.copy_image, **call) in (
                "InvalidAMIID.NotFound",
                "IncorrectState",
            ), name
