"""The per-region catalog: snapshots, import tasks, tags, images (and the ids
of deregistered ones), volumes, permissions, account settings, snapshot
locks, KMS keys and aliases, Recycle Bin rules, launch templates, instances,
SSM commands, SSM parameters, AMI usage reports, key pairs, VPCs, subnets
and security groups.

Each migration only adds; `MIGRATIONS[n]` brings a catalog from schema n to
n + 1, so catalogs written by earlier releases are upgraded in place.
"""

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from .types import UTCDateTime

metadata = MetaData()

snapshots = Table(
    "snapshots",
    metadata,
    Column("snapshot_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("state", String, nullable=False),  # pending | completed | error
    Column("state_message", Text),
    Column("progress", Integer, nullable=False, default=0),
    Column("volume_id", String, nullable=False),
    Column("volume_size", Integer, nullable=False),  # GiB
    Column("description", Text, nullable=False, default=""),
    Column("encrypted", Boolean, nullable=False, default=False),
    Column("start_time", UTCDateTime, nullable=False),
    Column("store_snapshot", String),  # the store's snapshot id once completed
    Column("worker", String),  # since schema 4: "<boot id>:<pid>" of the copying process
    Column("kms_key_id", String),  # since schema 11: the KMS key's ARN when encrypted
    Column("data_key", LargeBinary),  # since schema 11: the data key, wrapped by that key
    Column("bin_entered", UTCDateTime),  # since schema 12: in the Recycle Bin
    Column("bin_exit", UTCDateTime),  # since schema 12: purged from then on
)

import_tasks = Table(
    "import_tasks",
    metadata,
    Column("task_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("kind", String, nullable=False),  # snapshot (image later)
    Column("status", String, nullable=False),  # active | completed | deleted
    Column("status_message", Text),
    Column("progress", Integer, nullable=False, default=0),
    Column("url", Text, nullable=False),
    Column("format", String),
    Column("description", Text, nullable=False, default=""),
    Column("snapshot_id", String),
    Column("disk_image_size", Integer),
    Column("created", UTCDateTime, nullable=False),
    Column("worker", String),  # "<boot id>:<pid>" of the process running it
    Column("image_id", String),  # since schema 6: the image an ImportImage task made
    Column("options", Text),  # since schema 6: ImportImage's image settings (JSON)
    Column("kms_key_id", String),  # since schema 11: the key the imported snapshot gets
)

tags = Table(
    "tags",
    metadata,
    Column("resource_id", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False, default=""),
    Column("resource_type", String, nullable=False),
    Column("owner_id", String(12), index=True),  # since schema 3
)


images = Table(
    "images",
    metadata,
    Column("image_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False),
    Column("name", String, nullable=False),
    Column("state", String, nullable=False),
    Column("creation_date", String, nullable=False),
    Column("document", Text, nullable=False),  # the Image output shape as JSON, without Tags
    Column("attributes", Text, nullable=False, default="{}"),  # input-only attributes (uefiData)
    Column("worker", String),  # since schema 8: "<boot id>:<pid>" filling a pending copy
    Column("bin_entered", UTCDateTime),  # since schema 12: in the Recycle Bin
    Column("bin_exit", UTCDateTime),  # since schema 12: purged from then on
    Index("images_owner_name", "owner_id", "name", unique=True),
)

image_snapshots = Table(
    "image_snapshots",
    metadata,
    Column("image_id", String, ForeignKey("images.image_id", ondelete="CASCADE"), primary_key=True),
    Column("snapshot_id", String, primary_key=True, index=True),
)

volumes = Table(
    "volumes",
    metadata,
    Column("volume_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("state", String, nullable=False),  # available | in-use (with instances)
    Column("size", Integer, nullable=False),  # GiB
    Column("snapshot_id", String),
    Column("availability_zone", String, nullable=False),
    Column("volume_type", String, nullable=False),
    Column("iops", Integer),
    Column("throughput", Integer),
    Column("encrypted", Boolean, nullable=False),
    Column("create_time", UTCDateTime, nullable=False),
    Column("store_snapshot", String),  # the content it starts from; None: empty
    Column("kms_key_id", String),  # since schema 11
    Column("data_key", LargeBinary),  # since schema 11
    Column("instance_id", String),  # since schema 14: attached to
    Column("device", String),  # since schema 14: as this device
    Column("delete_on_termination", Boolean),  # since schema 14
)

permissions = Table(
    "permissions",
    metadata,
    # who besides the owner may use a resource: an image's launchPermission,
    # a snapshot's createVolumePermission
    Column("resource_id", String, primary_key=True),
    Column("kind", String, primary_key=True),  # user | group | organization | ou
    Column("value", String, primary_key=True),  # account id, "all", or an ARN
    Index("permissions_grantee", "kind", "value"),
)

account_settings = Table(
    "account_settings",
    metadata,
    # per account and region: block public access, encryption by default, ...
    Column("account_id", String(12), primary_key=True),
    Column("name", String, primary_key=True),
    Column("value", Text, nullable=False),
)

client_tokens = Table(
    "client_tokens",
    metadata,
    # idempotency: a ClientToken's first request and what it answered
    Column("account_id", String(12), primary_key=True),
    Column("token", String, primary_key=True),
    Column("action", String, nullable=False),
    Column("request", Text, nullable=False),  # the parameters, canonical JSON
    Column("result", Text, nullable=False),  # the answer, JSON
)


def v1_regional(conn: Connection) -> None:
    """Schema 1 exactly as it shipped; later migrations alter it."""
    conn.execute(
        text(
            "CREATE TABLE import_tasks (task_id VARCHAR NOT NULL PRIMARY KEY, "
            "owner_id VARCHAR(12) NOT NULL, kind VARCHAR NOT NULL, status VARCHAR NOT NULL, "
            "status_message TEXT, progress INTEGER NOT NULL, url TEXT NOT NULL, format VARCHAR, "
            "description TEXT NOT NULL, snapshot_id VARCHAR, disk_image_size INTEGER, "
            "created DATETIME NOT NULL, worker VARCHAR)"
        )
    )
    conn.execute(text("CREATE INDEX ix_import_tasks_owner_id ON import_tasks (owner_id)"))
    conn.execute(
        text(
            "CREATE TABLE snapshots (snapshot_id VARCHAR NOT NULL PRIMARY KEY, "
            "owner_id VARCHAR(12) NOT NULL, state VARCHAR NOT NULL, state_message TEXT, "
            "progress INTEGER NOT NULL, volume_id VARCHAR NOT NULL, volume_size INTEGER NOT NULL, "
            "description TEXT NOT NULL, encrypted BOOLEAN NOT NULL, "
            "start_time DATETIME NOT NULL, store_snapshot VARCHAR)"
        )
    )
    conn.execute(text("CREATE INDEX ix_snapshots_owner_id ON snapshots (owner_id)"))
    conn.execute(
        text(
            "CREATE TABLE tags (resource_id VARCHAR NOT NULL, key VARCHAR NOT NULL, "
            "value TEXT NOT NULL, resource_type VARCHAR NOT NULL, PRIMARY KEY (resource_id, key))"
        )
    )


def v2_images(conn: Connection) -> None:
    """Schema 2's images table exactly as it shipped; later migrations alter it."""
    conn.execute(
        text(
            "CREATE TABLE images (image_id VARCHAR NOT NULL PRIMARY KEY, "
            "owner_id VARCHAR(12) NOT NULL, name VARCHAR NOT NULL, state VARCHAR NOT NULL, "
            "creation_date VARCHAR NOT NULL, document TEXT NOT NULL, attributes TEXT NOT NULL)"
        )
    )
    conn.execute(text("CREATE UNIQUE INDEX images_owner_name ON images (owner_id, name)"))
    metadata.create_all(conn, tables=[image_snapshots])


def v3_tag_owners(conn: Connection) -> None:
    """Tags learn their owner (DescribeTags shows an account its own tags only)."""
    conn.execute(text("ALTER TABLE tags ADD COLUMN owner_id VARCHAR(12)"))
    conn.execute(text("CREATE INDEX ix_tags_owner_id ON tags (owner_id)"))
    for table, key in ((images, "image_id"), (snapshots, "snapshot_id"), (import_tasks, "task_id")):
        conn.execute(
            text(
                f"UPDATE tags SET owner_id = (SELECT owner_id FROM {table.name} "
                f"WHERE {table.name}.{key} = tags.resource_id) WHERE owner_id IS NULL"
            )
        )


def v4_snapshot_workers(conn: Connection) -> None:
    """Snapshots being copied record their worker, for restart recovery."""
    conn.execute(text("ALTER TABLE snapshots ADD COLUMN worker VARCHAR"))


def v5_volumes(conn: Connection) -> None:
    """Schema 5's volumes table exactly as it shipped; later migrations alter it."""
    conn.execute(
        text(
            "CREATE TABLE volumes (volume_id VARCHAR NOT NULL PRIMARY KEY, "
            "owner_id VARCHAR(12) NOT NULL, state VARCHAR NOT NULL, size INTEGER NOT NULL, "
            "snapshot_id VARCHAR, availability_zone VARCHAR NOT NULL, "
            "volume_type VARCHAR NOT NULL, iops INTEGER, throughput INTEGER, "
            "encrypted BOOLEAN NOT NULL, create_time DATETIME NOT NULL, store_snapshot VARCHAR)"
        )
    )
    conn.execute(text("CREATE INDEX ix_volumes_owner_id ON volumes (owner_id)"))


def v6_image_imports(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE import_tasks ADD COLUMN image_id VARCHAR"))
    conn.execute(text("ALTER TABLE import_tasks ADD COLUMN options TEXT"))


def v7_sharing(conn: Connection) -> None:
    metadata.create_all(conn, tables=[permissions, account_settings])


snapshot_locks = Table(
    "snapshot_locks",
    metadata,
    Column("snapshot_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("mode", String, nullable=False),  # governance | compliance
    Column("created", UTCDateTime, nullable=False),
    Column("duration_start", UTCDateTime, nullable=False),
    Column("expires", UTCDateTime, nullable=False),
    Column("duration_days", Integer),  # when locked for a duration
    Column("cool_off_hours", Integer),  # compliance only
    Column("cool_off_expires", UTCDateTime),
)


kms_keys = Table(
    "kms_keys",
    metadata,
    Column("key_id", String, primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("description", Text, nullable=False, default=""),
    Column("manager", String, nullable=False),  # CUSTOMER | AWS (aws/ebs)
    Column("state", String, nullable=False),  # Enabled | Disabled | PendingDeletion
    Column("created", UTCDateTime, nullable=False),
    Column("deletion_date", UTCDateTime),
    Column("pending_days", Integer),
    Column("policy", Text, nullable=False),
    Column("material", LargeBinary, nullable=False),  # sealed under the host master key
)

kms_aliases = Table(
    "kms_aliases",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("alias_name", String, primary_key=True),
    Column("key_id", String, nullable=False, index=True),
    Column("created", UTCDateTime, nullable=False),
)


def v10_kms(conn: Connection) -> None:
    metadata.create_all(conn, tables=[kms_keys, kms_aliases])


def v11_encryption(conn: Connection) -> None:
    """Encrypted snapshots and volumes keep their KMS key and wrapped data key."""
    for table in ("snapshots", "volumes"):
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN kms_key_id VARCHAR"))
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN data_key BLOB"))
    conn.execute(text("ALTER TABLE import_tasks ADD COLUMN kms_key_id VARCHAR"))


rbin_rules = Table(
    "rbin_rules",
    metadata,
    Column("identifier", String, primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("resource_type", String, nullable=False),  # EBS_SNAPSHOT | EC2_IMAGE | EBS_VOLUME
    Column("description", Text, nullable=False, default=""),
    Column("retention_days", Integer, nullable=False),
    Column("resource_tags", Text, nullable=False),  # JSON list of {ResourceTagKey, ...Value}
    Column("exclude_tags", Text, nullable=False),  # JSON, region-level rules only
    Column("unlock_delay_days", Integer),  # set while locked or pending unlock
    Column("unlock_at", UTCDateTime),  # pending unlock: unlocked from then
    Column("created", UTCDateTime, nullable=False),
)


def v12_recycle_bin(conn: Connection) -> None:
    """Recycle Bin rules; images and snapshots in the bin keep their rows, marked."""
    metadata.create_all(conn, tables=[rbin_rules])
    for table in ("images", "snapshots"):
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN bin_entered DATETIME"))
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN bin_exit DATETIME"))


launch_templates = Table(
    "launch_templates",
    metadata,
    Column("template_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False),
    Column("name", String, nullable=False),
    Column("default_version", Integer, nullable=False),
    Column("latest_version", Integer, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Index("launch_templates_owner_name", "owner_id", "name", unique=True),
)

launch_template_versions = Table(
    "launch_template_versions",
    metadata,
    Column(
        "template_id",
        String,
        ForeignKey("launch_templates.template_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("version", Integer, primary_key=True),
    Column("description", Text),
    Column("data", Text, nullable=False),  # ResponseLaunchTemplateData as JSON
    Column("image_id", String, index=True),  # the data's ImageId, for image references
    Column("created", UTCDateTime, nullable=False),
)


def v13_launch_templates(conn: Connection) -> None:
    metadata.create_all(conn, tables=[launch_templates, launch_template_versions])


instances = Table(
    "instances",
    metadata,
    Column("instance_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("reservation_id", String, nullable=False),
    Column("image_id", String, nullable=False, index=True),
    Column("instance_type", String, nullable=False),
    Column("state", String, nullable=False),  # pending | running | stopping | stopped | ...
    Column("state_reason", Text),  # "Code: Message" of the last transition
    Column("launch_time", UTCDateTime, nullable=False),
    Column("launch_index", Integer, nullable=False),
    Column("zone", String, nullable=False),
    Column("user_data", LargeBinary),
    Column("root_device", String, nullable=False),
    Column("root_volume_id", String, nullable=False),
    Column("document", Text, nullable=False),  # the image's fields the instance shows
    Column("worker", String),  # "<boot id>:<pid>" while a transition runs in the background
    Column("ended", UTCDateTime),  # when it was terminated
    Column("disable_api_termination", Boolean, nullable=False, default=False),
    Column("shutdown_behavior", String, nullable=False, default="stop"),  # stop | terminate
    # since schema 20: where it is on the network, its key pair, its metadata options
    Column("subnet_id", String),
    Column("vpc_id", String),
    Column("private_ip", String),
    Column("mac", String),
    Column("interface_id", String),  # its primary network interface (eni-...)
    Column("key_name", String),
    Column("public_key", Text),  # the key pair's public key at launch (IMDS keeps serving it)
    Column("metadata_options", Text),  # JSON: MetadataOptions as DescribeInstances shows them
)


def v14_instances(conn: Connection) -> None:
    """Schema 14's instances table exactly as it shipped; later migrations alter it."""
    conn.execute(
        text(
            "CREATE TABLE instances (instance_id VARCHAR NOT NULL PRIMARY KEY, "
            "owner_id VARCHAR(12) NOT NULL, reservation_id VARCHAR NOT NULL, "
            "image_id VARCHAR NOT NULL, instance_type VARCHAR NOT NULL, state VARCHAR NOT NULL, "
            "state_reason TEXT, launch_time DATETIME NOT NULL, launch_index INTEGER NOT NULL, "
            "zone VARCHAR NOT NULL, user_data BLOB, root_device VARCHAR NOT NULL, "
            "root_volume_id VARCHAR NOT NULL, document TEXT NOT NULL, worker VARCHAR, "
            "ended DATETIME)"
        )
    )
    conn.execute(text("CREATE INDEX ix_instances_owner_id ON instances (owner_id)"))
    conn.execute(text("CREATE INDEX ix_instances_image_id ON instances (image_id)"))
    conn.execute(text("ALTER TABLE volumes ADD COLUMN instance_id VARCHAR"))
    conn.execute(text("ALTER TABLE volumes ADD COLUMN device VARCHAR"))
    conn.execute(text("ALTER TABLE volumes ADD COLUMN delete_on_termination BOOLEAN"))


ssm_commands = Table(
    "ssm_commands",
    metadata,
    Column("command_id", String, primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("document", String, nullable=False),
    Column("parameters", Text, nullable=False),  # JSON, as sent
    Column("comment", Text, nullable=False, default=""),
    Column("timeout", Integer, nullable=False),  # executionTimeout, seconds
    Column("requested", UTCDateTime, nullable=False),
)

ssm_invocations = Table(
    "ssm_invocations",
    metadata,
    Column(
        "command_id",
        String,
        ForeignKey("ssm_commands.command_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("instance_id", String, primary_key=True),
    Column("status", String, nullable=False),  # Pending | InProgress | Success | Failed | ...
    Column("response_code", Integer, nullable=False, default=-1),
    Column("stdout", LargeBinary, nullable=False, default=b""),
    Column("stderr", LargeBinary, nullable=False, default=b""),
    Column("started", UTCDateTime),
    Column("ended", UTCDateTime),
    Column("worker", String),  # "<boot id>:<pid>" while it runs
)


def v15_ssm(conn: Connection) -> None:
    metadata.create_all(conn, tables=[ssm_commands, ssm_invocations])


def v16_instance_attributes(conn: Connection) -> None:
    conn.execute(
        text("ALTER TABLE instances ADD COLUMN disable_api_termination BOOLEAN NOT NULL DEFAULT 0")
    )
    conn.execute(
        text("ALTER TABLE instances ADD COLUMN shutdown_behavior VARCHAR NOT NULL DEFAULT 'stop'")
    )


def v9_snapshot_locks(conn: Connection) -> None:
    metadata.create_all(conn, tables=[snapshot_locks])


def v8_image_copies(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE images ADD COLUMN worker VARCHAR"))
    metadata.create_all(conn, tables=[client_tokens])


deregistered_images = Table(
    "deregistered_images",
    metadata,
    # an image's id after DeregisterImage, until it is forgotten (cloud/images/deregistered.py)
    Column("image_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("document", Text, nullable=False),  # the Image shape as it was, State deregistered
    Column("deregistered", UTCDateTime, nullable=False),
)


def v17_deregistered_images(conn: Connection) -> None:
    metadata.create_all(conn, tables=[deregistered_images])


ssm_parameters = Table(
    "ssm_parameters",
    metadata,
    # a Parameter Store parameter: its name and latest version; versions apart
    Column("account_id", String(12), primary_key=True),
    Column("name", String, primary_key=True),
    Column("version", Integer, nullable=False),  # the latest
)

ssm_parameter_versions = Table(
    "ssm_parameter_versions",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("type", String, nullable=False),  # String | StringList | SecureString
    Column("value", Text, nullable=False),  # SecureString: the KMS ciphertext, base64
    Column("key_id", String),  # SecureString: the KeyId as given (default alias/aws/ssm)
    Column("data_type", String, nullable=False),  # text | aws:ec2:image
    Column("tier", String, nullable=False),  # Standard | Advanced
    Column("description", Text),
    Column("allowed_pattern", Text),
    Column("modified", UTCDateTime, nullable=False),
    Column("modified_user", String, nullable=False),
    Index("ssm_parameter_versions_value", "account_id", "data_type", "value"),
)

ssm_parameter_labels = Table(
    "ssm_parameter_labels",
    metadata,
    # a label names one version of a parameter
    Column("account_id", String(12), primary_key=True),
    Column("name", String, primary_key=True),
    Column("label", String, primary_key=True),
    Column("version", Integer, nullable=False),
)

ssm_parameter_tags = Table(
    "ssm_parameter_tags",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)


def v18_ssm_parameters(conn: Connection) -> None:
    metadata.create_all(
        conn,
        tables=[ssm_parameters, ssm_parameter_versions, ssm_parameter_labels, ssm_parameter_tags],
    )


image_usage_reports = Table(
    "image_usage_reports",
    metadata,
    # an AMI usage report: a snapshot, taken when it was created, of how other
    # accounts use one of the owner's images (cloud/images/usage_reports.py)
    Column("report_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("image_id", String, nullable=False, index=True),
    Column("state", String, nullable=False),  # available | pending | error
    Column("state_reason", Text),
    Column("resource_types", Text, nullable=False),  # JSON: the ImageUsageResourceType list asked
    Column("account_ids", Text),  # JSON list of the accounts asked; None: every account
    Column("created", UTCDateTime, nullable=False),
    Column("expires", UTCDateTime, nullable=False, index=True),
)

image_usage_report_entries = Table(
    "image_usage_report_entries",
    metadata,
    # one account's use of the report's image by one resource type (never zero)
    Column(
        "report_id",
        String,
        ForeignKey("image_usage_reports.report_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("account_id", String(12), primary_key=True),
    Column("resource_type", String, primary_key=True),  # ec2:Instance | ec2:LaunchTemplate
    Column("usage_count", Integer, nullable=False),
)


def v19_image_usage_reports(conn: Connection) -> None:
    metadata.create_all(conn, tables=[image_usage_reports, image_usage_report_entries])


key_pairs = Table(
    "key_pairs",
    metadata,
    Column("key_pair_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False),
    Column("key_name", String, nullable=False),
    Column("key_type", String, nullable=False),  # rsa | ed25519
    Column("fingerprint", String, nullable=False),  # as AWS computes it (see key_pairs.py)
    Column("public_key", Text, nullable=False),  # OpenSSH format: "ssh-ed25519 AAAA..."
    Column("created", UTCDateTime, nullable=False),
    Index("key_pairs_owner_name", "owner_id", "key_name", unique=True),
)

vpcs = Table(
    "vpcs",
    metadata,
    Column("vpc_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("cidr_block", String, nullable=False),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("state", String, nullable=False),  # available
    Column("instance_tenancy", String, nullable=False, default="default"),
    Column("dns_support", Boolean, nullable=False, default=True),
    Column("dns_hostnames", Boolean, nullable=False, default=False),
    Column("created", UTCDateTime, nullable=False),
)

subnets = Table(
    "subnets",
    metadata,
    Column("subnet_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("vpc_id", String, ForeignKey("vpcs.vpc_id"), nullable=False, index=True),
    Column("cidr_block", String, nullable=False),
    Column("zone", String, nullable=False),
    Column("default_for_az", Boolean, nullable=False, default=False),
    Column("map_public_ip", Boolean, nullable=False, default=False),
    Column("state", String, nullable=False),  # available
    Column("created", UTCDateTime, nullable=False),
)

security_groups = Table(
    "security_groups",
    metadata,
    Column("group_id", String, primary_key=True),
    Column("owner_id", String(12), nullable=False, index=True),
    Column("vpc_id", String, ForeignKey("vpcs.vpc_id"), nullable=False, index=True),
    Column("group_name", String, nullable=False),
    Column("description", Text, nullable=False),
    Index("security_groups_vpc_name", "vpc_id", "group_name", unique=True),
)

security_group_rules = Table(
    "security_group_rules",
    metadata,
    Column("rule_id", String, primary_key=True),  # sgr-...
    Column(
        "group_id",
        String,
        ForeignKey("security_groups.group_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("owner_id", String(12), nullable=False),
    Column("egress", Boolean, nullable=False),
    Column("protocol", String, nullable=False),  # "-1" (all), "tcp", "udp", "icmp", or a number
    Column("from_port", Integer),  # -1 or None where the protocol has no ports
    Column("to_port", Integer),
    Column("cidr_ipv4", String),  # exactly one of the three sources/destinations is set
    Column("cidr_ipv6", String),
    Column("referenced_group_id", String, index=True),
    Column("description", Text),
)

instance_groups = Table(
    "instance_groups",
    metadata,
    # an instance's security groups (those of its primary network interface)
    Column("instance_id", String, primary_key=True),
    Column("group_id", String, primary_key=True, index=True),
)


def v20_network(conn: Connection) -> None:
    """Key pairs, VPCs, subnets, security groups; instances learn their place on the network."""
    metadata.create_all(
        conn,
        tables=[key_pairs, vpcs, subnets, security_groups, security_group_rules, instance_groups],
    )
    for column in (
        "subnet_id",
        "vpc_id",
        "private_ip",
        "mac",
        "interface_id",
        "key_name",
    ):
        conn.execute(text(f"ALTER TABLE instances ADD COLUMN {column} VARCHAR"))
    conn.execute(text("ALTER TABLE instances ADD COLUMN public_key TEXT"))
    conn.execute(text("ALTER TABLE instances ADD COLUMN metadata_options TEXT"))


MIGRATIONS = (
    v1_regional,
    v2_images,
    v3_tag_owners,
    v4_snapshot_workers,
    v5_volumes,
    v6_image_imports,
    v7_sharing,
    v8_image_copies,
    v9_snapshot_locks,
    v10_kms,
    v11_encryption,
    v12_recycle_bin,
    v13_launch_templates,
    v14_instances,
    v15_ssm,
    v16_instance_attributes,
    v17_deregistered_images,
    v18_ssm_parameters,
    v19_image_usage_reports,
    v20_network,
)
