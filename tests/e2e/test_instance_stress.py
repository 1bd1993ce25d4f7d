"""Stress: threads of two processes — in-process clients and `ami serve` on the
same data home — fire launches, starts, stops, reboots, terminations and
CreateImage at a few instances in random order for a bounded time, then the
server is killed with SIGKILL at random moments and restarted.

After every call: at most one init per instance, and a terminated instance
leaves no process, mount or directory. At the end, once every transition has
settled: what DescribeInstances says is what runs. Needs root."""

import faulthandler
import random
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from instance_api import FAST, launch
from serving import Server, start_server

from amiable.cloud.core.home import Cloud
from amiable.cloud.instances import hosting
from instance_leaks import inits_of, mounts_under, processes_under

REGION = "eu-central-1"
BUSY_SECONDS = 12.0
KILLS = 4
REFUSALS = {"IncorrectInstanceState", "InvalidInstanceId", "InvalidAMIName.Duplicate"}


class Fleet:
    """The instances under test, and the checks made after every call."""

    def __init__(self, cloud: Cloud, first: list[str]) -> None:
        self.cloud, self.ids, self.lock = cloud, list(first), threading.Lock()
        self.images = 0
        self.region = cloud.region(REGION)

    def pick(self, rng: random.Random) -> str:
        with self.lock:
            return rng.choice(self.ids)

    def add(self, ids: list[str]) -> None:
        with self.lock:
            self.ids += ids

    def image_name(self) -> str:
        with self.lock:
            self.images += 1
            return f"stress-{self.images}"

    def directory(self, instance_id: str) -> Path:
        return self.region.root / "instances" / instance_id

    def inits(self, instance_id: str) -> list[int]:
        return inits_of(self.directory(instance_id))

    def check(self, ec2: Any) -> None:
        with self.lock:
            ids = list(self.ids)
        for instance_id in ids:
            assert len(self.inits(instance_id)) <= 1, f"{instance_id} runs twice"
        states = _states(ec2, ids)
        for instance_id in [i for i, state in states.items() if state == "terminated"]:
            where = self.directory(instance_id)
            assert not where.exists(), f"terminated {instance_id} left its directory"
            assert processes_under(where) == {} and mounts_under(where) == set()


def _states(ec2: Any, ids: list[str]) -> dict[str, str]:
    found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}


def _actions(fleet: Fleet, image: str) -> list[tuple[int, Callable[[Any, str], Any]]]:
    """(weight, action) pairs; terminations rare, launches make up for them."""
    return [
        (4, lambda ec2, i: ec2.start_instances(InstanceIds=[i])),
        (4, lambda ec2, i: ec2.stop_instances(InstanceIds=[i])),
        (5, lambda ec2, i: ec2.reboot_instances(InstanceIds=[i])),
        (2, lambda ec2, i: ec2.create_image(InstanceId=i, Name=fleet.image_name())),
        (1, lambda ec2, i: ec2.terminate_instances(InstanceIds=[i])),
        (
            1,
            lambda ec2, i: fleet.add(
                [
                    x["InstanceId"]
                    for x in ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"]
                ]
            ),
        ),
    ]


def _fire(
    fleet: Fleet, image: str, ec2: Any, seed: int, until: float, tolerate: tuple[type, ...] = ()
) -> None:
    rng = random.Random(seed)
    weights, actions = zip(*_actions(fleet, image), strict=True)
    while time.monotonic() < until:
        act = rng.choices(actions, weights)[0]
        try:
            act(ec2, fleet.pick(rng))
        except ClientError as error:
            assert error.response["Error"]["Code"] in REFUSALS, error
        except tolerate:
            return  # the server was killed under this call
        try:
            fleet.check(ec2)
        except tolerate:
            return


def _http_client(server: Server) -> Any:
    config = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=20)
    return boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
    ).client("ec2", endpoint_url=server.url, config=config)


def _run_threads(targets: list[Callable[[], None]]) -> None:
    failures: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # reported in the test's thread below
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def _settle(fleet: Fleet, ec2: Any) -> dict[str, str]:
    """Read until no instance is mid-transition before and after the read (a
    read may start one: it finishes what dead workers left); the states then."""
    deadline = time.monotonic() + 120

    def marked() -> list[str]:
        return [i for i in fleet.ids if hosting.row_of(fleet.region, i).worker is not None]

    while True:
        before = marked()
        states = _states(ec2, fleet.ids)
        after = marked()
        if not before and not after:
            return states
        if time.monotonic() > deadline:
            faulthandler.dump_traceback(all_threads=True)  # where a transition is stuck
            rows = {i: tuple(hosting.row_of(fleet.region, i)._mapping.items()) for i in after}
            raise AssertionError(f"never settled: {rows}")
        time.sleep(0.1)


def _assert_true_to_the_processes(fleet: Fleet, ec2: Any) -> None:
    for instance_id, state in _settle(fleet, ec2).items():
        running = len(fleet.inits(instance_id))
        assert state in ("running", "stopped", "terminated"), (instance_id, state)
        assert running == (1 if state == "running" else 0), (instance_id, state, running)
        if state == "terminated":
            assert not fleet.directory(instance_id).exists()


def test_transitions_from_two_processes_keep_one_truth(
    cloud: Cloud, clients: tuple[Any, Any], image: str, tmp_path: Path
) -> None:
    local, _ = clients
    seed = random.randrange(1 << 30)
    print(f"stress seed {seed}")  # shown when the test fails, to replay it
    fleet = Fleet(cloud, launch(local, image, count=3))
    server = start_server(cloud.home)
    try:
        remote = _http_client(server)
        until = time.monotonic() + BUSY_SECONDS
        _run_threads(
            [
                partial(_fire, fleet, image, local, seed, until),
                partial(_fire, fleet, image, local, seed + 1, until),
                partial(_fire, fleet, image, remote, seed + 2, until),
                partial(_fire, fleet, image, _http_client(server), seed + 3, until),
            ]
        )
        _assert_true_to_the_processes(fleet, local)

        rng = random.Random(seed)
        for kill in range(KILLS):
            remote = _http_client(server)
            until = time.monotonic() + rng.uniform(0.3, 2.5)
            killer = threading.Timer(until - time.monotonic(), server.kill)
            killer.start()
            _run_threads(
                [
                    partial(
                        _fire, fleet, image, remote, seed + 10 + kill, until + 5, (BotoCoreError,)
                    ),
                    partial(_fire, fleet, image, local, seed + 20 + kill, until),
                ]
            )
            killer.join()
            server = start_server(cloud.home)
            _assert_true_to_the_processes(fleet, _http_client(server))
        _assert_true_to_the_processes(fleet, local)
    finally:
        server.stop()
        running = [i for i, s in _states(local, fleet.ids).items() if s != "terminated"]
        if running:
            local.terminate_instances(InstanceIds=running)
            local.get_waiter("instance_terminated").wait(InstanceIds=running, WaiterConfig=FAST)
