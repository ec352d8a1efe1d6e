"""Dokploy's application and database queries (``application.one``, ``postgres.one``…), read
for the host ports those services publish."""

from __future__ import annotations

from dokploy_provider.api_base import ApiBase
from dokploy_provider.models import Service, ServiceRef


class ServiceEndpoints(ApiBase):
    """Applications and databases, one typed method for their ``<kind>.one`` queries."""

    def get_service(self, ref: ServiceRef) -> Service:
        """The service ``ref`` names (``application.one``, ``postgres.one``, ``libsql.one``…).

        Raises :class:`NotFound` when Dokploy says it does not exist.
        """
        return self._model(
            ref.endpoint, Service, self._get(ref.endpoint, {ref.id_param: ref.service_id})
        )
