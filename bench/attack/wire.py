"""TLS connections and HTTP/2 frames for the attack cases, on asyncio.

Three levels, from polite to raw:
- `H2Session`: the `h2` library over an asyncio TLS stream; it answers PINGs and SETTINGS (the
  library does), sends WINDOW_UPDATE only if told to (never, in these cases), and records when
  each stream got its response, an RST_STREAM, a GOAWAY, or the connection's end.
- `frame()` / `FrameParser`: hand-encoded 9-byte frame headers, for what `h2` refuses to send
  (CONTINUATION floods), and a parser for what comes back.
- `RawTLS`: TLS through `ssl.MemoryBIO` on a non-blocking socket, so the caller alone decides
  when the kernel's receive buffer is read (slow readers, floods that never read).
"""

import asyncio
import socket
import ssl
import struct
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
FRAME_NAMES = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS", 5: "PUSH_PROMISE",
               6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"}
# Handshakes and writes that take longer than this are a failure of the connection, not a wait.
IO_TIMEOUT_S = 10.0


def error_name(code):
    """HTTP/2 error code as its name (ENHANCE_YOUR_CALM), or the number when unknown."""
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return str(code)


def tls_context(ca, alpn):
    """A client context that trusts only the development CA and offers one ALPN protocol."""
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols([alpn])
    return context


async def open_tls(address, context, limit=1 << 16, timeout=IO_TIMEOUT_S):
    """An asyncio TLS stream to the origin, checked for the ALPN protocol it asked for."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(address[0], address[1], ssl=context, server_hostname="localhost", limit=limit),
        timeout)
    chosen = writer.get_extra_info("ssl_object").selected_alpn_protocol()
    if chosen is None:
        writer.close()
        raise ConnectionError("the server chose no ALPN protocol")
    return reader, writer


def frame(kind, flags, stream_id, payload=b""):
    """One HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload (RFC 9113 §4.1)."""
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", kind, flags, stream_id & 0x7FFFFFFF) + payload


class FrameParser:
    """Splits received bytes into (type, flags, stream_id, payload) frames."""

    def __init__(self):
        self.buffer = b""

    def split(self, data):
        """Whole frames, as bytes (header included); a partial one waits for more data."""
        self.buffer += data
        frames = []
        while len(self.buffer) >= 9:
            end = 9 + int.from_bytes(self.buffer[:3], "big")
            if len(self.buffer) < end:
                break
            frames.append(self.buffer[:end])
            self.buffer = self.buffer[end:]
        return frames

    def feed(self, data):
        """Whole frames, parsed: (type, flags, stream id, payload)."""
        frames = []
        for raw in self.split(data):
            kind, flags, stream_id = struct.unpack(">BBI", raw[3:9])
            frames.append((kind, flags, stream_id & 0x7FFFFFFF, raw[9:]))
        return frames


def describe_frame(kind, flags, stream_id, payload, decoder=None):
    """A frame as a small dict, with the fields a report needs (error codes, :status)."""
    event = {"frame": FRAME_NAMES.get(kind, str(kind)), "stream": stream_id, "flags": flags}
    if kind == GOAWAY and len(payload) >= 8:
        last, code = struct.unpack(">II", payload[:8])
        event.update(last_stream_id=last & 0x7FFFFFFF, error=error_name(code), debug=payload[8:200].decode(errors="replace"))
    elif kind == RST_STREAM and len(payload) >= 4:
        event["error"] = error_name(struct.unpack(">I", payload[:4])[0])
    elif kind == HEADERS and decoder is not None:
        try:
            fields = dict(decoder.decode(_header_block(flags, payload)))
            event["status"] = fields.get(":status", fields.get(b":status"))
        except hpack.HPACKError as error:
            event["status"] = f"undecodable ({type(error).__name__})"
    return event


def _header_block(flags, payload):
    """The header block fragment of a HEADERS frame, without padding and priority fields."""
    start, end = 0, len(payload)
    if flags & 0x8:  # PADDED
        end -= payload[0]
        start = 1
    if flags & 0x20:  # PRIORITY
        start += 5
    return payload[start:end]


def request_headers(path, secret=None, method="GET", extra=()):
    """The pseudo-headers and headers of one GET to the origin, with the CDN's secret if given."""
    headers = [(":method", method), (":scheme", "https"), (":authority", "localhost"), (":path", path)]
    if secret:
        headers.append((secret[0].lower(), secret[1]))
    headers.extend(extra)
    return headers


class H2Session:
    """One HTTP/2 connection driven by the `h2` library; records what happens to each stream.

    `streams[id]` holds `start`, then any of `status`, `headers_at`, `reset_at` and `reset_error`
    (times in seconds since the harness started, from `clock()`). `goaway` and `closed_at` are
    the connection's end, if it came.
    """

    def __init__(self, reader, writer, clock, window=None, max_frame_size=None):
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        settings = {h2.settings.SettingCodes.ENABLE_PUSH: 0}
        if window is not None:
            settings[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] = window
        if max_frame_size is not None:
            settings[h2.settings.SettingCodes.MAX_FRAME_SIZE] = max_frame_size
        # Initial values go into the preface's SETTINGS frame itself, so no DATA can be sent
        # under the default window before they take effect.
        self.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        self.reader, self.writer, self.clock = reader, writer, clock
        self.streams = {}
        self.goaway = None
        self.closed_at = None
        self.opened_at = clock()
        self.data_bytes = 0
        self.close_reason = None
        self.close_detail = None
        self.settings_received = asyncio.Event()
        self.server_max_streams = None
        self._pump = None

    async def start(self):
        self.conn.initiate_connection()
        await self.flush()
        self._pump = asyncio.create_task(self._read_loop())

    async def wait_for_settings(self, timeout=IO_TIMEOUT_S):
        """Waits for the server's SETTINGS, so that its stream limit is known before opening."""
        await asyncio.wait_for(self.settings_received.wait(), timeout)
        self.server_max_streams = self.conn.remote_settings.max_concurrent_streams
        return self.server_max_streams

    async def flush(self, timeout=IO_TIMEOUT_S):
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)
            await asyncio.wait_for(self.writer.drain(), timeout)

    def send_request(self, headers, end_stream=True):
        """Queues a request (call flush() to send it); returns its stream id."""
        stream_id = self.conn.get_next_available_stream_id()
        self.conn.send_headers(stream_id, headers, end_stream=end_stream)
        self.streams[stream_id] = {"start": self.clock()}
        return stream_id

    def reset(self, stream_id, code=h2.errors.ErrorCodes.CANCEL):
        self.conn.reset_stream(stream_id, code)

    @property
    def ended(self):
        return self.closed_at is not None

    async def _read_loop(self):
        frames = FrameParser()
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    self.close_reason = "EOF"
                    break
                for raw in frames.split(data):
                    self._receive_frame(raw)
                await self.flush()  # PING and SETTINGS acknowledgements
        except (OSError, ssl.SSLError, asyncio.TimeoutError, h2.exceptions.ProtocolError) as error:
            self.close_reason = type(error).__name__
            self.close_detail = str(error)[:200]
        finally:
            self.closed_at = self.clock()

    def _receive_frame(self, raw):
        """Feeds h2 one frame at a time, so an error on one frame does not lose the events of
        the frames before it. After a GOAWAY, h2 refuses every frame (a PING, say) although
        RFC 9113 lets the server go on sending; those are skipped, and reading goes on until
        the connection actually ends, which is the time the report wants."""
        try:
            events = self.conn.receive_data(raw)
        except h2.exceptions.ProtocolError:
            if self.goaway is None:
                raise
            self._note_after_goaway(raw)
            return
        for event in events:
            self._note(event)

    def _note_after_goaway(self, raw):
        """A response HEADERS that h2 refused because a GOAWAY came first: its status is still
        the origin's answer, decoded with the connection's own HPACK state."""
        kind, flags, stream_id = struct.unpack(">BBI", raw[3:9])
        if kind != HEADERS or stream_id not in self.streams:
            return
        try:
            fields = dict(self.conn.decoder.decode(_header_block(flags, raw[9:])))
        except hpack.HPACKError:
            return
        status = fields.get(":status", fields.get(b":status"))
        if status is not None:
            self.streams[stream_id].update(status=int(status), headers_at=self.clock())

    def _note(self, event):
        now = self.clock()
        if isinstance(event, h2.events.RemoteSettingsChanged):
            self.settings_received.set()
        elif isinstance(event, h2.events.ResponseReceived):
            stream = self.streams.setdefault(event.stream_id, {"start": now})
            stream.update(status=int(dict(event.headers).get(":status", 0)), headers_at=now)
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.setdefault(event.stream_id, {"start": now})
            if event.remote_reset and "reset_at" not in stream:
                stream.update(reset_at=now, reset_error=error_name(event.error_code))
        elif isinstance(event, h2.events.ConnectionTerminated) and self.goaway is None:
            self.goaway = {"at": now, "error": error_name(event.error_code),
                           "last_stream_id": event.last_stream_id}
        elif isinstance(event, h2.events.DataReceived):
            self.data_bytes += event.flow_controlled_length

    async def close(self):
        """Closes the connection; `close_reason` becomes "closed by us" unless it had ended.

        The transport is closed before the read loop is cancelled: on Python 3.11 a cancel
        that lands as a wait_for() inside the loop completes can be lost, and the loop would
        then wait on a read until the origin's own timeout."""
        ours = self.closed_at is None
        self.writer.close()
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.wait({self._pump}, timeout=2)
        if ours:
            self.closed_at = self.clock()
            self.close_reason = "closed by us"
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            pass


class RawTLS:
    """TLS over a non-blocking socket through memory BIOs: the kernel's receive buffer is read
    only when the caller asks, and as little as it asks, so "never read" and "read 5 bytes a
    second" mean exactly that at the TCP level."""

    def __init__(self, sock, tls, incoming, outgoing):
        self.sock, self.tls, self.incoming, self.outgoing = sock, tls, incoming, outgoing
        self.loop = asyncio.get_running_loop()

    @classmethod
    async def connect(cls, address, context, rcvbuf=None, timeout=IO_TIMEOUT_S):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        if rcvbuf:
            # Before connect(), so the window scale offered in the SYN matches the small buffer.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
        self = cls(sock, tls, incoming, outgoing)
        try:
            await asyncio.wait_for(self.loop.sock_connect(sock, address), timeout)
            await asyncio.wait_for(self._handshake(), timeout)
        except BaseException:
            sock.close()
            raise
        return self

    async def _handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                await self._send_pending()
                return
            except ssl.SSLWantReadError:
                await self._send_pending()
                data = await self.loop.sock_recv(self.sock, 65536)
                if not data:
                    raise ConnectionResetError("closed during the TLS handshake")
                self.incoming.write(data)

    async def _send_pending(self):
        data = self.outgoing.read()
        if data:
            await self.loop.sock_sendall(self.sock, data)

    async def send(self, plaintext, timeout=IO_TIMEOUT_S):
        """Encrypts and sends; raises TimeoutError when the peer's window stays shut."""
        self.tls.write(plaintext)
        await asyncio.wait_for(self._send_pending(), timeout)

    async def recv_raw(self, size):
        """Up to `size` bytes of ciphertext from the kernel, never decrypted: a slow reader
        needs only to take bytes off the socket. b"" means the peer closed."""
        return await self.loop.sock_recv(self.sock, size)

    async def recv_decrypted(self, size):
        """Takes up to `size` bytes of ciphertext off the socket and returns the plaintext of
        the records they complete (b"" while a record is still partial); None when the peer
        closed. One socket read per call, so the caller alone sets the pace."""
        data = await self.loop.sock_recv(self.sock, size)
        if not data:
            return None
        self.incoming.write(data)
        chunks = []
        while True:
            try:
                chunks.append(self.tls.read(65536))
            except ssl.SSLWantReadError:
                return b"".join(chunks)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b"".join(chunks) or None

    async def recv_plain(self, timeout):
        """Whatever plaintext arrives within `timeout` (b"" at the peer's close or timeout)."""
        chunks = []
        deadline = self.loop.time() + timeout
        while self.loop.time() < deadline:
            try:
                chunks.append(self.tls.read(65536))
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            try:
                data = await asyncio.wait_for(self.loop.sock_recv(self.sock, 65536),
                                              max(0.01, deadline - self.loop.time()))
            except asyncio.TimeoutError:
                break
            if not data:
                self.incoming.write_eof()
                continue
            self.incoming.write(data)
        return b"".join(chunks)

    def close(self):
        self.sock.close()


def now_clock(started_at):
    """A clock in seconds since `started_at` (time.monotonic), rounded for reports."""
    return lambda: round(time.monotonic() - started_at, 3)
