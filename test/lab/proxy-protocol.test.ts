import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeProxyV1, encodeProxyV2 } from '../../src/lab/backend/proxy-encode.ts';
import {
  canonical,
  type ProxyAddresses,
  type ProxyHeader,
  type ProxyParseResult,
  parseProxyHeader,
} from '../../src/lab/backend/proxy-protocol.ts';

const SIG = '0d0a0d0a000d0a515549540a';
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const text = (s: string): Buffer => Buffer.from(s, 'latin1');

function header(partial: Partial<ProxyHeader> & Pick<ProxyHeader, 'version'>): ProxyHeader {
  return { command: 'proxy', family: 'unspec', transport: 'unspec', addresses: null, tlvs: [], ...partial };
}

interface Case {
  name: string;
  input: Buffer;
  expect: ProxyParseResult | 'need-more' | 'none' | 'error';
}

const cases: Case[] = [
  {
    name: 'v1 TCP4, followed by HTTP',
    input: text('PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n'),
    expect: {
      kind: 'ok',
      consumed: 45,
      header: header({
        version: 1,
        family: 'inet',
        transport: 'stream',
        addresses: {
          source: '192.0.2.1',
          sourcePort: 56324,
          destination: '198.51.100.2',
          destinationPort: 443,
        },
      }),
    },
  },
  {
    name: 'v1 TCP4 exactly as HAProxy 2.6 check-send-proxy sends it',
    input: text('PROXY TCP4 127.0.0.1 127.0.0.1 48064 39463\r\nGET / HTTP/1.0\r\n\r\n'),
    expect: {
      kind: 'ok',
      consumed: 44,
      header: header({
        version: 1,
        family: 'inet',
        transport: 'stream',
        addresses: {
          source: '127.0.0.1',
          sourcePort: 48064,
          destination: '127.0.0.1',
          destinationPort: 39463,
        },
      }),
    },
  },
  {
    name: 'v1 TCP6, addresses canonicalised',
    input: text('PROXY TCP6 2001:DB8:0:0::1 2001:db8::2 0 65535\r\n'),
    expect: {
      kind: 'ok',
      consumed: 48,
      header: header({
        version: 1,
        family: 'inet6',
        transport: 'stream',
        addresses: {
          source: '2001:db8::1',
          sourcePort: 0,
          destination: '2001:db8::2',
          destinationPort: 65535,
        },
      }),
    },
  },
  {
    name: 'v1 UNKNOWN',
    input: text('PROXY UNKNOWN\r\nrest'),
    expect: { kind: 'ok', consumed: 15, header: header({ version: 1 }) },
  },
  {
    name: 'v1 UNKNOWN with ignored addresses',
    input: text('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'),
    expect: { kind: 'ok', consumed: 35, header: header({ version: 1 }) },
  },
  {
    name: 'v2 PROXY TCP over IPv4',
    input: hex(`${SIG} 21 11 000c c0000201 c6336402 dc04 01bb 474554`),
    expect: {
      kind: 'ok',
      consumed: 28,
      header: header({
        version: 2,
        family: 'inet',
        transport: 'stream',
        addresses: {
          source: '192.0.2.1',
          sourcePort: 56324,
          destination: '198.51.100.2',
          destinationPort: 443,
        },
      }),
    },
  },
  {
    name: 'v2 PROXY TCP over IPv6',
    input: hex(
      `${SIG} 21 21 0024 20010db8000000000000000000000007 20010db8000000000000000000000005 3039 1f90`,
    ),
    expect: {
      kind: 'ok',
      consumed: 52,
      header: header({
        version: 2,
        family: 'inet6',
        transport: 'stream',
        addresses: {
          source: '2001:db8::7',
          sourcePort: 12345,
          destination: '2001:db8::5',
          destinationPort: 8080,
        },
      }),
    },
  },
  {
    name: 'v2 PROXY with an IPv4-mapped IPv6 source',
    input: hex(
      `${SIG} 21 21 0024 00000000000000000000ffffc0000201 00000000000000000000000000000001 0001 0002`,
    ),
    expect: {
      kind: 'ok',
      consumed: 52,
      header: header({
        version: 2,
        family: 'inet6',
        transport: 'stream',
        addresses: { source: '::ffff:192.0.2.1', sourcePort: 1, destination: '::1', destinationPort: 2 },
      }),
    },
  },
  {
    name: 'v2 LOCAL exactly as HAProxy 2.6 health checks send it (check-send-proxy send-proxy-v2)',
    input: hex(`${SIG} 20 00 0000 474554202f`),
    expect: { kind: 'ok', consumed: 16, header: header({ version: 2, command: 'local' }) },
  },
  {
    name: 'v2 LOCAL with an address block: addresses are discarded',
    input: hex(`${SIG} 20 11 000c c0000201 c6336402 dc04 01bb`),
    expect: {
      kind: 'ok',
      consumed: 28,
      header: header({ version: 2, command: 'local', family: 'inet', transport: 'stream' }),
    },
  },
  {
    name: 'v2 UDP over IPv4',
    input: hex(`${SIG} 21 12 000c 0a000001 0a000002 0035 0035`),
    expect: {
      kind: 'ok',
      consumed: 28,
      header: header({
        version: 2,
        family: 'inet',
        transport: 'dgram',
        addresses: { source: '10.0.0.1', sourcePort: 53, destination: '10.0.0.2', destinationPort: 53 },
      }),
    },
  },
  {
    name: 'v2 with TLVs (ALPN, authority, NOOP padding) skipped to the right offset',
    input: hex(`${SIG} 21 11 001b c0000201 c6336402 dc04 01bb 01 0002 6832 02 0003 616263 04 0001 00 ffff`),
    expect: {
      kind: 'ok',
      consumed: 43,
      header: header({
        version: 2,
        family: 'inet',
        transport: 'stream',
        addresses: {
          source: '192.0.2.1',
          sourcePort: 56324,
          destination: '198.51.100.2',
          destinationPort: 443,
        },
        tlvs: [
          { type: 0x01, value: text('h2') },
          { type: 0x02, value: text('abc') },
          { type: 0x04, value: hex('00') },
        ],
      }),
    },
  },
  {
    name: 'v2 AF_UNIX: no IP addresses',
    input: Buffer.concat([hex(`${SIG} 21 31 00d8`), Buffer.alloc(216)]),
    expect: {
      kind: 'ok',
      consumed: 232,
      header: header({ version: 2, family: 'unix', transport: 'stream' }),
    },
  },
  { name: 'empty buffer', input: Buffer.alloc(0), expect: 'need-more' },
  { name: 'one byte of v1', input: text('P'), expect: 'need-more' },
  { name: 'v1 prefix', input: text('PROXY'), expect: 'need-more' },
  { name: 'v1 without CRLF yet', input: text('PROXY TCP4 1.2.3.4 5.6.7.8 1 2'), expect: 'need-more' },
  { name: 'v1 with CR but no LF yet', input: text('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r'), expect: 'need-more' },
  { name: 'v2 signature prefix', input: hex('0d0a0d0a00'), expect: 'need-more' },
  { name: 'v2 signature only', input: hex(SIG), expect: 'need-more' },
  { name: 'v2 fixed part incomplete', input: hex(`${SIG} 21 11 00`), expect: 'need-more' },
  { name: 'v2 address block incomplete', input: hex(`${SIG} 21 11 000c c0000201`), expect: 'need-more' },
  { name: 'HTTP request', input: text('GET / HTTP/1.1\r\n'), expect: 'none' },
  { name: 'TLS ClientHello', input: hex('160301'), expect: 'none' },
  { name: 'RESP array', input: text('*1\r\n$4\r\nPING\r\n'), expect: 'none' },
  { name: 'almost v1', input: text('PROXZ'), expect: 'none' },
  { name: 'almost v2', input: hex('0d0a0d0a01'), expect: 'none' },
  { name: 'MySQL handshake response', input: hex('2900000100820000'), expect: 'none' },
  { name: 'lowercase v1', input: text('proxy TCP4'), expect: 'none' },
  { name: 'v1 LF without CR', input: text('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), expect: 'error' },
  { name: 'v1 unknown protocol', input: text('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), expect: 'error' },
  { name: 'v1 missing port', input: text('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), expect: 'error' },
  { name: 'v1 family mismatch', input: text('PROXY TCP4 ::1 ::2 1 2\r\n'), expect: 'error' },
  { name: 'v1 port out of range', input: text('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), expect: 'error' },
  { name: 'v1 double space', input: text('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'), expect: 'error' },
  { name: 'v1 longer than 107 bytes', input: text(`PROXY TCP6 ${'f'.repeat(120)}`), expect: 'error' },
  { name: 'v2 version 1', input: hex(`${SIG} 11 11 0000`), expect: 'error' },
  { name: 'v2 command 2', input: hex(`${SIG} 22 11 0000`), expect: 'error' },
  { name: 'v2 family 4', input: hex(`${SIG} 21 41 0000`), expect: 'error' },
  { name: 'v2 transport 3', input: hex(`${SIG} 21 13 0000`), expect: 'error' },
  { name: 'v2 IPv4 block too short', input: hex(`${SIG} 21 11 0004 c0000201`), expect: 'error' },
  { name: 'v2 truncated TLV header', input: hex(`${SIG} 20 00 0002 0100`), expect: 'error' },
  { name: 'v2 TLV overruns the header', input: hex(`${SIG} 20 00 0004 01 0005 68`), expect: 'error' },
];

describe('parseProxyHeader', () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = parseProxyHeader(c.input);
      if (typeof c.expect === 'string') assert.equal(got.kind, c.expect, JSON.stringify(got));
      else assert.deepEqual(got, c.expect);
    });
  }

  it('parses a header at a non-zero byteOffset of a shared buffer', () => {
    const pool = Buffer.concat([text('xxxx'), hex(`${SIG} 21 11 000c c0000201 c6336402 dc04 01bb`)]);
    const got = parseProxyHeader(pool.subarray(4));
    assert.equal(got.kind, 'ok');
    if (got.kind === 'ok') assert.equal(got.header.addresses?.source, '192.0.2.1');
  });
});

const port = fc.integer({ min: 0, max: 65535 });
const v4Addresses = fc.record({
  source: fc.ipV4(),
  sourcePort: port,
  destination: fc.ipV4(),
  destinationPort: port,
});
const v6Addresses = fc.record({
  source: fc.ipV6(),
  sourcePort: port,
  destination: fc.ipV6(),
  destinationPort: port,
});
const tlvs = fc.array(
  fc.record({ type: fc.integer({ min: 0, max: 255 }), value: fc.uint8Array({ maxLength: 40 }) }),
  { maxLength: 4 },
);

const canonicalAddresses = (a: ProxyAddresses): ProxyAddresses => ({
  ...a,
  source: canonical(a.source),
  destination: canonical(a.destination),
});

/** A valid header's bytes and what parsing them must give. */
const validHeader: fc.Arbitrary<{ bytes: Buffer; expected: ProxyHeader }> = fc.oneof(
  fc.oneof(v4Addresses, v6Addresses).map((raw) => {
    const a = canonicalAddresses(raw);
    const family = raw.source.includes(':') ? 'inet6' : 'inet';
    return {
      bytes: encodeProxyV1(a),
      expected: header({ version: 1, family, transport: 'stream', addresses: a }),
    };
  }),
  fc.constant({ bytes: encodeProxyV1(null), expected: header({ version: 1 }) }),
  fc.tuple(fc.oneof(v4Addresses, v6Addresses), tlvs).map(([raw, t]) => {
    const a = canonicalAddresses(raw);
    const family = raw.source.includes(':') ? 'inet6' : 'inet';
    const list = t.map((x) => ({ type: x.type, value: Buffer.from(x.value) }));
    return {
      bytes: encodeProxyV2({ command: 'proxy', addresses: a, tlvs: list }),
      expected: header({ version: 2, family, transport: 'stream', addresses: a, tlvs: list }),
    };
  }),
  tlvs.map((t) => {
    const list = t.map((x) => ({ type: x.type, value: Buffer.from(x.value) }));
    return {
      bytes: encodeProxyV2({ command: 'local', tlvs: list }),
      expected: header({ version: 2, command: 'local', tlvs: list }),
    };
  }),
);

describe('parseProxyHeader properties', () => {
  it('every strict prefix of a valid header needs more; the whole gives the same result', () => {
    fc.assert(
      fc.property(
        validHeader,
        fc.uint8Array({ maxLength: 32 }),
        fc.nat(),
        ({ bytes, expected }, tail, cut) => {
          const stream = Buffer.concat([bytes, tail]);
          const whole = parseProxyHeader(stream);
          assert.deepEqual(whole, { kind: 'ok', header: expected, consumed: bytes.length });
          const split = cut % bytes.length;
          assert.deepEqual(parseProxyHeader(stream.subarray(0, split)), { kind: 'need-more' });
          // Bytes arriving in two reads: the concatenation parses like the whole.
          const joined = Buffer.concat([stream.subarray(0, split), stream.subarray(split)]);
          assert.deepEqual(parseProxyHeader(joined), whole);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('every prefix of a valid header needs more', () => {
    fc.assert(
      fc.property(validHeader, ({ bytes }) => {
        for (let k = 0; k < bytes.length; k++)
          assert.equal(parseProxyHeader(bytes.subarray(0, k)).kind, 'need-more', `prefix ${k}`);
      }),
      { numRuns: 100 },
    );
  });

  it('never throws on arbitrary bytes', () => {
    const start = fc.constantFrom(Buffer.alloc(0), text('PROXY '), hex(SIG), hex(`${SIG}21`));
    fc.assert(
      fc.property(start, fc.uint8Array({ maxLength: 300 }), (prefix, rest) => {
        const got = parseProxyHeader(Buffer.concat([prefix, rest]));
        assert.ok(['need-more', 'none', 'ok', 'error'].includes(got.kind));
        if (got.kind === 'ok') assert.ok(got.consumed <= prefix.length + rest.length);
      }),
      { numRuns: 1000 },
    );
  });
});
