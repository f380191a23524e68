"""MQTT with aiomqtt: QoS 1, done when the broker's PUBACK says success.

MQTT 5 is spoken where the broker does, and then the signature headers and the event's ids
travel as user properties; a broker that only speaks 3.1.1 gets the same body with no
properties (3.1.1 has none), which a consumer cannot verify. One connection per broker URL;
one that drops is replaced on the next publish.

aiomqtt resolves a publish on any PUBACK, whatever its reason code; `_AckedClient` keeps the
reason codes of failed acknowledgements (MQTT 5: not authorized, quota exceeded, ...) so a
refused message is a failed delivery, not a silent loss.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.model import Connector
from gateway.push.senders import BrokerRefused, Clients, Message, Options, check_public

# CONNACK codes that mean "this broker does not speak MQTT 5": retry with 3.1.1.
_UNSUPPORTED_VERSION = {1, 132}


class _AckedClient(aiomqtt.Client):
    """An aiomqtt client whose `publish_acked` fails on a PUBACK with a failure reason code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused: dict[int, ReasonCode] = {}

    def _on_publish(
        self, client: paho.Client, userdata: Any, mid: int, reason_code: ReasonCode,
        properties: Properties,
    ) -> None:  # fmt: skip
        if reason_code.is_failure:
            self._refused[mid] = reason_code
        super()._on_publish(client, userdata, mid, reason_code, properties)

    async def publish_acked(
        self, topic: str, payload: bytes, properties: Properties | None, timeout: float
    ) -> None:
        """Publish at QoS 1 and wait for a PUBACK that reports success."""
        info = self._client.publish(topic, payload, 1, False, properties)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise aiomqtt.MqttCodeError(info.rc, "Could not publish message")
        if not info.is_published():
            confirmation = asyncio.Event()
            with self._pending_call(info.mid, confirmation, self._pending_publishes):
                await self._wait_for(confirmation.wait(), timeout=timeout)
        refused = self._refused.pop(info.mid, None)
        if refused is not None:
            raise BrokerRefused(f"the broker refused the message: {refused}")


@dataclass
class _Connection:
    client: _AckedClient
    version5: bool


class MqttPublisher:
    def __init__(self, options: Options) -> None:
        self._options = options
        self._connections: Clients[str, _Connection] = Clients(self._connect, _disconnect)
        self._speaks_v5: dict[str, bool] = {}

    async def _connect(self, url: str) -> _Connection:
        await check_public(url, self._options)
        version5 = self._speaks_v5.get(url, True)
        try:
            client = await self._open(url, version5)
        except aiomqtt.MqttCodeError as error:
            if not version5 or _code(error.rc) not in _UNSUPPORTED_VERSION:
                raise
            version5 = False
            client = await self._open(url, version5)
        self._speaks_v5[url] = version5
        return _Connection(client, version5)

    async def _open(self, url: str, version5: bool) -> _AckedClient:
        parts = urlsplit(url)
        secure = parts.scheme == "mqtts"
        client = _AckedClient(
            parts.hostname or "",
            parts.port or (8883 if secure else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            identifier=f"dcg-{uuid.uuid4().hex[:16]}",
            protocol=aiomqtt.ProtocolVersion.V5 if version5 else aiomqtt.ProtocolVersion.V311,
            tls_context=self._options.tls_context() if secure else None,
            timeout=self._options.timeout,
            max_inflight_messages=64,
        )
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as error:
            if "Connection refused" in str(error) and not isinstance(error, aiomqtt.MqttCodeError):
                raise ConnectionRefusedError(str(error)) from None
            raise
        return client

    async def publish(self, connector: Connector, message: Message) -> None:
        """Publish at QoS 1; returns when the broker acknowledged with success."""
        connection = await self._connections.get(connector.url)
        properties = _properties(message) if connection.version5 else None
        topic = message.render(str(connector.config["topic"]))
        try:
            await connection.client.publish_acked(
                topic, message.body, properties, self._options.timeout
            )
        except aiomqtt.MqttError:
            # A dropped connection fails every publish on it: open a new one next time.
            await self._connections.discard(connector.url, connection)
            raise

    async def close(self) -> None:
        await self._connections.close()


def _properties(message: Message) -> Properties:
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.ContentType = "application/json"
    properties.UserProperty = [
        *((name, value) for name, value in message.headers.items() if name != "Content-Type"),
        ("eventId", message.event_id),
        ("eventType", message.event_type),
        ("deviceId", message.device_id),
        ("projectId", message.project_id),
    ]
    return properties


def _code(rc: int | ReasonCode | None) -> int | None:
    return rc.value if isinstance(rc, ReasonCode) else rc


async def _disconnect(connection: _Connection) -> None:
    client = connection.client
    try:
        await client.__aexit__(None, None, None)
    finally:
        # After a drop, aiomqtt's __aexit__ returns without reading the drop's error, which
        # asyncio then logs as "Future exception was never retrieved": it is read here.
        lost = client._disconnected
        if lost.done() and not lost.cancelled():
            lost.exception()


def publisher(options: Options) -> MqttPublisher:
    """This module's publisher (gateway/push/senders.py imports it on first use)."""
    return MqttPublisher(options)
