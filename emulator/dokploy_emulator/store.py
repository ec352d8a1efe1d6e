"""The emulator's database: plain JSON-ready rows, guarded by one lock."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .ids import build_app_name, nanoid, now_iso

Row = dict[str, Any]


@dataclass
class Store:
    """All rows, keyed by id. Hold ``lock`` while reading or changing anything."""

    api_key: str
    server_ip: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    organization_id: str = field(default_factory=nanoid)
    user_id: str = field(default_factory=nanoid)
    member_id: str = field(default_factory=nanoid)
    api_key_id: str = field(default_factory=nanoid)
    created_at: str = field(default_factory=now_iso)
    servers: dict[str, Row] = field(default_factory=dict)
    projects: dict[str, Row] = field(default_factory=dict)
    environments: dict[str, Row] = field(default_factory=dict)
    composes: dict[str, Row] = field(default_factory=dict)
    deployments: dict[str, Row] = field(default_factory=dict)
    #: Applications and databases (their ``_kind`` says which), by id.
    services: dict[str, Row] = field(default_factory=dict)

    def add_server(self, name: str) -> Row:
        """Register a remote deploy server (``--remote-server``)."""
        server_id = nanoid()
        row: Row = {
            "serverId": server_id,
            "name": name,
            "description": None,
            "ipAddress": "127.0.0.1",
            "port": 22,
            "username": "root",
            "appName": build_app_name("server", None),
            "enableDockerCleanup": False,
            "createdAt": now_iso(),
            "organizationId": self.organization_id,
            "serverStatus": "active",
            "serverType": "deploy",
            "command": "",
            "sshKeyId": nanoid(),
            "buildsConcurrency": 1,
            "metricsConfig": {
                "server": {
                    "type": "Remote",
                    "refreshRate": 60,
                    "port": 4500,
                    "token": "",
                    "urlCallback": "",
                    "retentionDays": 2,
                    "cronJob": "",
                    "thresholds": {"cpu": 0, "memory": 0},
                },
                "containers": {"refreshRate": 60, "services": {"include": [], "exclude": []}},
            },
        }
        self.servers[server_id] = row
        return row

    def user(self) -> Row:
        """``user.get``: the member row of the key's owner, with the user and its keys."""
        return {
            "id": self.member_id,
            "organizationId": self.organization_id,
            "userId": self.user_id,
            "role": "owner",
            "createdAt": self.created_at,
            "teamId": None,
            "isDefault": True,
            "canCreateProjects": True,
            "canAccessToSSHKeys": True,
            "canCreateServices": True,
            "canDeleteProjects": True,
            "canDeleteServices": True,
            "canAccessToDocker": True,
            "canAccessToAPI": True,
            "canAccessToGitProviders": True,
            "canAccessToTraefikFiles": True,
            "accessedProjects": [],
            "accessedEnvironments": [],
            "accessedServices": [],
            "user": {
                "id": self.user_id,
                "firstName": "Emulated",
                "lastName": "Admin",
                "email": "admin@dokploy.local",
                "emailVerified": True,
                "image": None,
                "role": "user",
                "twoFactorEnabled": False,
                "createdAt": self.created_at,
                "updatedAt": self.created_at,
                "apiKeys": [
                    {
                        "id": self.api_key_id,
                        "name": "emulator",
                        "prefix": None,
                        "enabled": True,
                        "expiresAt": None,
                        "createdAt": self.created_at,
                    }
                ],
            },
        }

    def deployments_of(self, compose_id: str) -> list[Row]:
        """Deployment rows of one compose, newest first."""
        rows = [d for d in self.deployments.values() if d["composeId"] == compose_id]
        return sorted(rows, key=lambda d: (d["createdAt"], d["_seq"]), reverse=True)
