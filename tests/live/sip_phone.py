"""A SIP phone for the real-switch tests: it answers every call with PCMU and RFC 2833
telephone-events, streams silence as a real phone does, and sends DTMF digits as RFC 2833 packets
(RFC 4733) to the switch's media port, as an agent's desk phone would. SIPp 3.6.1's own DTMF sends
broken packets, hence this."""

from __future__ import annotations

import asyncio
import random
import re
import struct

# The switch's bridge runs the answering leg's ``bridge_pre_execute_bleg_app`` (the code
# binding) only after it has read 10 media frames from it (DEFAULT_LEAD_FRAMES in
# switch_ivr_bridge.c; observed: a "*" 180 ms after answer came before the binding, so
# "*12" did not match). A phone presses a code only after this many frames of a call.
LEAD_FRAMES = 25
_EVENTS = {**{str(i): i for i in range(10)}, "*": 10, "#": 11}


class _Sip(asyncio.DatagramProtocol):
    def __init__(self, phone: SipPhone) -> None:
        self.phone = phone

    def connection_made(self, transport) -> None:
        self.phone.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.phone.received(data.decode("utf-8", "replace"), addr)


class SipPhone:
    """Answers on ``127.0.0.1:<port>``; ``answered`` is set once the switch ACKed the answer."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.rtp: asyncio.DatagramTransport | None = None
        self.answered = asyncio.Event()
        self.hung_up = asyncio.Event()
        self.media: tuple[str, int] | None = None  # where the switch wants our RTP
        self._invite: dict[str, str] = {}
        self._peer = None
        self._ssrc, self._seq, self._stamp = random.getrandbits(32), random.getrandbits(16), random.getrandbits(32)
        self._pressing = False
        self._stream: asyncio.Task | None = None
        self._frames = 0
        self.talking = asyncio.Event()  # enough media sent for the switch to have bound codes

    @property
    def port(self) -> int:
        return self.transport.get_extra_info("sockname")[1]

    @property
    def rtp_port(self) -> int:
        return self.rtp.get_extra_info("sockname")[1]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: _Sip(self), local_addr=("127.0.0.1", 0))
        self.rtp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))

    def close(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
        for transport in (self.transport, self.rtp):
            if transport is not None:
                transport.close()

    def received(self, text: str, addr) -> None:
        head, _, body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        method = lines[0].split(" ", 1)[0]
        if method == "INVITE":
            self._invite, self._peer = headers, addr
            port = re.search(r"m=audio (\d+)", body)
            host = re.search(r"c=IN IP4 (\S+)", body)
            if port and host:
                self.media = (host[1], int(port[1]))
            self._reply(headers, "200 OK", self._sdp())
        elif method == "ACK":
            if not self.answered.is_set() and self.media is not None:
                self._stream = asyncio.get_running_loop().create_task(self._silence())
            self.answered.set()
        elif method == "BYE":
            self._reply(headers, "200 OK")
            if self._stream is not None:
                self._stream.cancel()
            self.hung_up.set()

    def _reply(self, headers: dict[str, str], status: str, body: str = "") -> None:
        to = headers.get("to", "")
        if ";tag=" not in to:
            to += ";tag=phone" + str(self.port)
        lines = [f"SIP/2.0 {status}", f"Via: {headers.get('via', '')}", f"From: {headers.get('from', '')}",
                 f"To: {to}", f"Call-ID: {headers.get('call-id', '')}", f"CSeq: {headers.get('cseq', '')}",
                 f"Contact: <sip:phone@127.0.0.1:{self.port}>"]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body.encode())}")
        self.transport.sendto(("\r\n".join(lines) + "\r\n\r\n" + body).encode(), self._peer)

    def _sdp(self) -> str:
        return "\r\n".join([
            "v=0", "o=phone 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
            f"m=audio {self.rtp_port} RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=sendrecv", "",
        ])

    def _send(self, payload_type: int, payload: bytes, marker: bool = False) -> None:
        header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | payload_type, self._seq & 0xFFFF,
                             self._stamp & 0xFFFFFFFF, self._ssrc)
        self.rtp.sendto(header + payload, self.media)
        self._seq += 1

    async def _silence(self) -> None:
        """PCMU silence every 20 ms, except while digits are sent."""
        while True:
            if not self._pressing:
                self._send(0, b"\xff" * 160)
                self._stamp += 160
                self._frames += 1
                if self._frames == LEAD_FRAMES:
                    self.talking.set()
            await asyncio.sleep(0.02)

    async def press(self, digits: str, payload_type: int = 101) -> None:
        """Each digit as RFC 4733 events: 160 ms of updates, three end packets, 200 ms apart."""
        assert self.media is not None, "no call"
        await self.talking.wait()
        self._pressing = True
        try:
            for digit in digits:
                event = _EVENTS[digit]
                for i in range(1, 9):
                    self._send(payload_type, struct.pack("!BBH", event, 10, i * 160), marker=i == 1)
                    await asyncio.sleep(0.02)
                for _ in range(3):
                    self._send(payload_type, struct.pack("!BBH", event, 0x80 | 10, 1280))
                self._stamp += 1280
                await asyncio.sleep(0.2)
                self._stamp += 1600
        finally:
            self._pressing = False
