"""The console's Starlette app: its routes under /console, its static files,
and the middleware every request goes through (security headers, the signed
session cookie). `server/app.py` hands it every request under /console."""

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from amiable.cloud.core.home import Cloud

from . import (
    audits,
    bakes,
    copy_image,
    create_image,
    image_actions,
    image_detail,
    image_permissions,
    images,
    imports,
    instance_actions,
    instance_detail,
    instances,
    launch_instance,
    launch_template_detail,
    launch_templates,
    recover,
    recycle_bin,
    regions,
    run_command,
    signin,
    snapshots,
    storage_actions,
    volumes,
)
from .auth import SESSION_AGE, SESSION_COOKIE
from .headers import SECURITY_HEADERS, SecurityHeaders
from .keys import session_key
from .render import page

STATIC = Path(__file__).parent / "static"
_IMAGE = "/console/{region}/images/{image_id}"
_INSTANCE = "/console/{region}/instances/{instance_id}"
_BIN = "/console/{region}/recycle-bin"
_BOTH = ["GET", "POST"]


def _routes() -> list[BaseRoute]:
    return [
        Route("/console", regions.home),
        Route("/console/signin", signin.sign_in_page, methods=_BOTH),
        Route("/console/signout", signin.sign_out_page, methods=["POST"]),
        Route("/console/region", regions.switch_region),
        Mount("/console/static", StaticFiles(directory=STATIC), name="static"),
        Route("/console/{region}/images", images.images_page),
        Route("/console/{region}/images/action", images.image_action),
        Route(_IMAGE, image_detail.image_page),
        Route(f"{_IMAGE}/tags", image_detail.add_tag, methods=["POST"]),
        Route(f"{_IMAGE}/tags/remove", image_detail.remove_tag, methods=["POST"]),
        Route(f"{_IMAGE}/deregister", image_actions.deregister, methods=_BOTH),
        Route(f"{_IMAGE}/deprecate", image_actions.deprecate, methods=_BOTH),
        Route(f"{_IMAGE}/cancel-deprecation", image_actions.cancel_deprecation, methods=_BOTH),
        Route(f"{_IMAGE}/disable", image_actions.disable, methods=_BOTH),
        Route(f"{_IMAGE}/enable", image_actions.enable, methods=_BOTH),
        Route(f"{_IMAGE}/protection", image_actions.protection, methods=_BOTH),
        Route(f"{_IMAGE}/copy", copy_image.copy_image, methods=_BOTH),
        Route(f"{_IMAGE}/launch", launch_instance.launch_instance, methods=_BOTH),
        Route(f"{_IMAGE}/permissions", image_permissions.edit_permissions, methods=_BOTH),
        Route("/console/{region}/imports", imports.imports_page),
        Route("/console/{region}/instances", instances.instances_page),
        Route("/console/{region}/instances/action", instances.instance_action),
        Route(_INSTANCE, instance_detail.instance_page),
        Route(f"{_INSTANCE}/start", instance_actions.start, methods=_BOTH),
        Route(f"{_INSTANCE}/stop", instance_actions.stop, methods=_BOTH),
        Route(f"{_INSTANCE}/reboot", instance_actions.reboot, methods=_BOTH),
        Route(f"{_INSTANCE}/terminate", instance_actions.terminate, methods=_BOTH),
        Route(f"{_INSTANCE}/create-image", create_image.create_image, methods=_BOTH),
        Route(f"{_INSTANCE}/run-command", run_command.run_command, methods=_BOTH),
        Route(f"{_INSTANCE}/commands/{{command_id}}", run_command.command_page),
        Route("/console/{region}/snapshots", snapshots.snapshots_page),
        Route("/console/{region}/snapshots/action", snapshots.snapshot_action),
        Route(
            "/console/{region}/snapshots/{snapshot_id}/delete",
            storage_actions.delete_snapshot,
            methods=_BOTH,
        ),
        Route("/console/{region}/volumes", volumes.volumes_page),
        Route("/console/{region}/volumes/action", volumes.volume_action),
        Route(
            "/console/{region}/volumes/{volume_id}/delete",
            storage_actions.delete_volume,
            methods=_BOTH,
        ),
        Route(_BIN, recycle_bin.recycle_bin_page),
        Route(f"{_BIN}/{{tab}}/action", recycle_bin.recover_action),
        Route(f"{_BIN}/images/{{resource_id}}/recover", recover.recover_image, methods=_BOTH),
        Route(f"{_BIN}/snapshots/{{resource_id}}/recover", recover.recover_snapshot, methods=_BOTH),
        Route("/console/{region}/launch-templates", launch_templates.launch_templates_page),
        Route(
            "/console/{region}/launch-templates/{template_id}",
            launch_template_detail.launch_template_page,
        ),
        Route("/console/{region}/bakes", bakes.bakes_page),
        Route("/console/{region}/bakes/{build_id}", bakes.build_page),
        Route("/console/{region}/audit", audits.audit_page),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return page(request, "error.html", exc.status_code, title="Error", message=exc.detail)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Outside the other middleware: a plain page, with the security headers, no traceback."""
    return PlainTextResponse(
        "InternalError: An internal error has occurred", 500, headers=SECURITY_HEADERS
    )


def make_console(cloud: Cloud) -> Starlette:
    """The console of `cloud`'s data home (its session key is made on first use)."""
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=session_key(cloud.home),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_AGE,
            path="/console",
            same_site="strict",
        ),
    ]
    app = Starlette(
        routes=_routes(),
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.state.cloud = cloud
    return app
