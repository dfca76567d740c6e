"""A JupyterHub for tests/test_hub.py: loopback only, dummy logins, the SMS sandbox as a managed
service. Everything that varies comes from ``XMS_HUBTEST_*`` variables set by the test."""

import os
import sys

c = get_config()  # noqa: F821 (JupyterHub runs this file with get_config defined)
env = os.environ
here = env["XMS_HUBTEST_DIR"]
public = f"http://127.0.0.1:{env['XMS_HUBTEST_PUBLIC_PORT']}"
service_url = f"http://127.0.0.1:{env['XMS_HUBTEST_SERVICE_PORT']}"

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(env["XMS_HUBTEST_PUBLIC_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["XMS_HUBTEST_HUB_PORT"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['XMS_HUBTEST_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.command = [env["XMS_HUBTEST_CHP"]]
c.JupyterHub.db_url = f"sqlite:///{here}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{here}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{here}/jupyterhub.pid"

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = env["XMS_HUBTEST_PASSWORD"]
c.Authenticator.allowed_users = {"alice", "bob"}
c.Authenticator.admin_users = {"teacher"}

# ---- the SMS sandbox, a Hub-managed service at <hub>/services/sms-sandbox/
c.JupyterHub.services = [
    {
        "name": "sms-sandbox",
        "url": service_url,
        "command": [
            env["XMS_HUBTEST_PYTHON"],
            "-m",
            "xms_sandbox",
            "--jupyterhub-service",
            "--db",
            f"{here}/sms-sandbox.sqlite3",
            "--dispatch-after",
            "0",
            "--deliver-after",
            "0",
        ],
        "cwd": here,
        "environment": {"PYTHONPATH": env["XMS_HUBTEST_REPO"]},
        "display": False,
    },
    # The test's own admin token (to make users and their tokens), not needed in a classroom.
    {"name": "test-driver", "api_token": env["XMS_HUBTEST_ADMIN_TOKEN"]},
]
c.JupyterHub.load_roles = [
    # Every user may use the sandbox service (their tokens then hold this scope).
    {"name": "user", "scopes": ["self", "access:services!service=sms-sandbox"]},
    {
        "name": "test-driver",
        "scopes": ["admin:users", "admin:servers", "tokens"],
        "services": ["test-driver"],
    },
]

# ---- learners' servers: their kernels find the service, and their own token opens it
c.JupyterHub.spawner_class = "simple"  # runs servers as the Hub's own user: fine for a test
c.Spawner.cmd = [env.get("XMS_HUBTEST_SINGLEUSER", "jupyterhub-singleuser")]
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
c.Spawner.notebook_dir = here
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    "access:services!service=sms-sandbox",
]
c.Spawner.environment = {
    "SINCH_SANDBOX_URL": f"{public}/services/sms-sandbox/xms",
    "SINCH_SANDBOX_AUTH": "jupyterhub",
    "PYTHONPATH": env["XMS_HUBTEST_REPO"],
}
print(f"test hub config read by {sys.executable}", file=sys.stderr)
