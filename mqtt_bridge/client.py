"""The bridge's one MQTT client: paho, driven by the asyncio event loop, with its last will.

One paho client (callback API version 2) runs inside the event loop, as Home
Assistant runs its own: the socket is watched with ``add_reader``/``add_writer``
and paho's housekeeping (keep-alive pings) runs once a second, so no thread
touches the bridge's state. Only the blocking connect (DNS, TCP, TLS handshake)
runs in a worker thread.

The client connects, and reconnects after any loss, with an exponential back-off;
a refused connection (bad password) is retried too, in case the broker's
configuration is being fixed. Subscriptions are remembered and renewed on every
connect, and every successful connect calls ``on_connected``, where the bridge
publishes everything again. The last will (``<base>/bridge/state`` = ``offline``,
retained) is registered with the broker on every connect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
import logging
import ssl
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from .settings import MqttSettings, TlsSettings

_LOGGER = logging.getLogger(__name__)

BACKOFF_MIN = 0.5
BACKOFF_MAX = 30.0
_MISC_INTERVAL = 1.0
_STOP_TIMEOUT = 5.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Message:
    """A message the bridge received."""

    topic: str
    payload: bytes
    retain: bool


@dataclass(kw_only=True, slots=True)
class Traffic:
    """What the client sent and received, for the live view and the benchmarks."""

    published: int = 0
    published_bytes: int = 0
    received: int = 0
    connects: int = 0


class MqttClient:
    """One connection to the broker for the whole bridge."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        will: tuple[str, str],
        on_connected: Callable[[], Awaitable[None]],
        on_message: Callable[[Message], None],
        backoff: tuple[float, float] = (BACKOFF_MIN, BACKOFF_MAX),
    ) -> None:
        """Prepare the client; ``will`` is the (topic, payload) the broker publishes if we vanish."""
        self._settings = settings
        self._will = will
        self._on_connected = on_connected
        self._on_message = on_message
        self._backoff = backoff
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._client: mqtt.Client | None = None
        self._subscriptions: dict[str, int] = {}
        self._connected = asyncio.Event()
        self._connack: asyncio.Future[bool] | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._misc_task: asyncio.Task[None] | None = None
        self._handler_tasks: set[asyncio.Task[None]] = set()
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._closed = asyncio.Event()
        self._stopping = False
        self._refusal_logged = False
        self.traffic = Traffic()

    @property
    def connected(self) -> bool:
        """Whether the broker accepted the connection and it is up."""
        return self._connected.is_set()

    async def start(self) -> None:
        """Build the paho client and begin connecting (in the background)."""
        tls = self._settings.tls
        context = None if tls is None else await asyncio.to_thread(_tls_context, tls)
        self._client = self._build(context)
        self._misc_task = self._loop.create_task(self._housekeeping())
        self._reconnect()

    async def wait_connected(self) -> None:
        """Wait until the broker accepted the connection."""
        await self._connected.wait()

    def subscribe(self, topic: str, qos: int | None = None) -> asyncio.Future[None] | None:
        """Subscribe now (if connected) and again after every reconnect.

        Returns a future that completes when the broker confirmed the subscription,
        or None when not connected (it is made at the next connect).
        """
        self._subscriptions[topic] = self._settings.qos if qos is None else qos
        if not self.connected or self._client is None:
            return None
        _result, mid = self._client.subscribe(topic, self._subscriptions[topic])
        if mid is None:
            return None
        confirmed: asyncio.Future[None] = self._loop.create_future()
        self._acks[mid] = confirmed
        return confirmed

    def unsubscribe(self, topic: str) -> None:
        """Stop receiving ``topic``."""
        self._subscriptions.pop(topic, None)
        if self.connected and self._client is not None:
            self._client.unsubscribe(topic)

    def publish(self, topic: str, payload: str | bytes, *, retain: bool = False) -> int | None:
        """Publish if connected; return the message id, or None when nothing was sent.

        Nothing is queued while the connection is down: every reconnect publishes
        the current state anyway, and old messages would only arrive late.
        """
        if not self.connected or self._client is None:
            return None
        data = payload.encode() if isinstance(payload, str) else payload
        info = self._client.publish(topic, data, self._settings.qos, retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return None
        self.traffic.published += 1
        self.traffic.published_bytes += len(data)
        return int(info.mid)

    async def stop(self, final: Iterable[tuple[str, str]] = (), *, retain: bool = True) -> None:
        """Publish ``final`` messages, wait for the broker to take them, and disconnect."""
        self._stopping = True
        if self._connect_task is not None:
            self._connect_task.cancel()
        client = self._client
        if client is not None and self.connected:
            acks = []
            for topic, payload in final:
                mid = self.publish(topic, payload, retain=retain)
                if mid is not None and self._settings.qos > 0:
                    acks.append(self._loop.create_future())
                    self._acks[mid] = acks[-1]
            try:
                async with asyncio.timeout(_STOP_TIMEOUT):
                    await asyncio.gather(*acks)
                    client.disconnect()
                    await self._closed.wait()
            except TimeoutError:
                _LOGGER.warning("The broker did not confirm the last messages in time")
        if self._misc_task is not None:
            self._misc_task.cancel()
        if client is not None and client.socket() is not None:
            self._in_loop(self._socket_closed, client, None, client.socket())
        for task in list(self._handler_tasks):
            task.cancel()

    # --- Building and connecting ------------------------------------------------------------
    def _build(self, context: ssl.SSLContext | None) -> mqtt.Client:
        """Create the paho client with credentials, TLS, last will and callbacks."""
        settings = self._settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
            reconnect_on_failure=False,
        )
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password)
        if context is not None:
            client.tls_set_context(context)
            if settings.tls is not None and settings.tls.insecure:
                client.tls_insecure_set(True)
        topic, payload = self._will
        client.will_set(topic, payload, settings.qos, retain=True)
        client.suppress_exceptions = True
        client.on_connect = self._connack_received
        client.on_disconnect = self._disconnected
        client.on_message = self._message_received
        client.on_publish = self._acknowledged
        client.on_subscribe = self._subscribed
        client.on_socket_open = partial(self._in_loop, self._socket_opened)
        client.on_socket_close = partial(self._in_loop, self._socket_closed)
        client.on_socket_register_write = partial(self._in_loop, self._want_write)
        client.on_socket_unregister_write = partial(self._in_loop, self._done_writing)
        return client

    def _reconnect(self) -> None:
        """Start the connect loop unless it runs already or the client is stopping."""
        if self._stopping or (self._connect_task is not None and not self._connect_task.done()):
            return
        self._connect_task = self._loop.create_task(self._connect_loop())

    async def _connect_loop(self) -> None:
        """Connect, retrying with an exponential back-off until the broker accepts."""
        assert self._client is not None
        settings = self._settings
        delay, largest = self._backoff
        attempt = 0
        while not self._stopping:
            attempt += 1
            self._connack = self._loop.create_future()
            self._closed.clear()
            try:
                await asyncio.to_thread(
                    self._client.connect, settings.host, settings.port, settings.keepalive
                )
            except (OSError, ssl.SSLError) as err:
                log = _LOGGER.warning if attempt == 1 else _LOGGER.debug
                log(
                    "Broker %s:%s is not reachable (%s); retrying in %.1f s",
                    settings.host,
                    settings.port,
                    err,
                    delay,
                )
            else:
                if await self._connack:
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, largest)

    # --- paho callbacks (all run in the event loop) -----------------------------------------
    def _connack_received(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _properties: Any
    ) -> None:
        """Handle the broker's answer to our connect: accepted or refused."""
        refused = reason.is_failure
        if refused:
            if not self._refusal_logged:
                _LOGGER.error(
                    "Broker %s:%s refused the connection: %s",
                    self._settings.host,
                    self._settings.port,
                    reason,
                )
            self._refusal_logged = True
        else:
            self._refusal_logged = False
            self.traffic.connects += 1
            _LOGGER.info("Connected to broker %s:%s", self._settings.host, self._settings.port)
            self._connected.set()
            if self._subscriptions:
                client.subscribe(list(self._subscriptions.items()))
            task: asyncio.Task[None] = self._loop.create_task(self._handler())
            self._handler_tasks.add(task)
            task.add_done_callback(self._handler_done)
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(not refused)

    def _disconnected(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _properties: Any
    ) -> None:
        """Note the end of the connection; reconnect unless stopping."""
        was_connected = self.connected
        self._connected.clear()
        if was_connected and not self._stopping:
            _LOGGER.warning("Lost the connection to the broker (%s); reconnecting", reason)
        self._reconnect()

    def _message_received(
        self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage
    ) -> None:
        """Hand a message to the bridge."""
        self.traffic.received += 1
        self._on_message(
            Message(topic=msg.topic, payload=bytes(msg.payload), retain=bool(msg.retain))
        )

    def _acknowledged(
        self, _client: mqtt.Client, _userdata: Any, mid: int, _reason: Any, _properties: Any
    ) -> None:
        """Note that the broker took a message (QoS 1 and 2)."""
        future = self._acks.pop(mid, None)
        if future is not None and not future.done():
            future.set_result(None)

    async def _handler(self) -> None:
        """Run the bridge's connect handler."""
        await self._on_connected()

    def _subscribed(
        self, _client: mqtt.Client, _userdata: Any, mid: int, _codes: Any, _properties: Any
    ) -> None:
        """Note that the broker confirmed a subscription."""
        self._acknowledged(_client, _userdata, mid, None, None)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        """Forget a finished connect handler; log what went wrong in it."""
        self._handler_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("Publishing after connect failed", exc_info=task.exception())

    # --- The socket in the event loop -------------------------------------------------------
    def _in_loop(self, handler: Callable[..., None], *args: Any) -> None:
        """Run a socket callback in the event loop (paho calls some from the connect thread)."""
        if threading.get_ident() == self._loop_thread:
            handler(*args)
        else:
            self._loop.call_soon_threadsafe(handler, *args)

    def _socket_opened(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        """Watch a new socket for reading."""
        self._loop.add_reader(sock, self._read, client)

    def _socket_closed(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        """Stop watching a closed socket; a pending connect has failed."""
        if sock.fileno() > -1:
            self._loop.remove_reader(sock)
            self._loop.remove_writer(sock)
        self._closed.set()
        if self._connack is not None and not self._connack.done():
            self._connack.set_result(False)
        if self.connected:
            self._disconnected(client, None, None, "connection closed", None)

    def _want_write(self, client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        """Write queued packets when the socket can take them."""
        if sock.fileno() > -1:
            self._loop.add_writer(sock, self._write, client)

    def _done_writing(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        """Nothing left to write."""
        if sock.fileno() > -1:
            self._loop.remove_writer(sock)

    def _read(self, client: mqtt.Client) -> None:
        """Read what arrived, including what TLS already decrypted into its buffer."""
        status = client.loop_read()
        sock = client.socket()
        while (
            status == MQTTErrorCode.MQTT_ERR_SUCCESS
            and isinstance(sock, ssl.SSLSocket)
            and sock.pending()
        ):
            status = client.loop_read()

    def _write(self, client: mqtt.Client) -> None:
        """Send what paho queued."""
        client.loop_write()

    async def _housekeeping(self) -> None:
        """Let paho send keep-alive pings and notice a dead connection, once a second."""
        assert self._client is not None
        while True:
            await asyncio.sleep(_MISC_INTERVAL)
            if self._client.socket() is not None:
                self._client.loop_misc()


def _tls_context(tls: TlsSettings) -> ssl.SSLContext:
    """Build the TLS context: the CA (or the system's), and a client certificate if given."""
    context = ssl.create_default_context(cafile=None if tls.ca is None else str(tls.ca))
    if tls.cert is not None and tls.key is not None:
        context.load_cert_chain(str(tls.cert), str(tls.key))
    return context
