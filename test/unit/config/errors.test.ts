import { describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../../../src/config/index.js';
import { rejection, rejectionIssues } from '../../helpers/config-errors.js';

const endpoint = { name: 'a', url: 'http://127.0.0.1:1' };

/** Config with a valid endpoint list, overridden by `patch`. */
function withPatch(patch: Record<string, unknown>): Record<string, unknown> {
  return { endpoints: [endpoint], ...patch };
}

function issuesOf(raw: unknown): string[] {
  return rejectionIssues(() => validateConfig(raw));
}

describe('validation messages', () => {
  it.each<[string, Record<string, unknown>, string]>([
    [
      'non-positive weight',
      { endpoints: [endpoint, { name: 'b', url: 'http://h:2' }, { name: 'c', url: 'http://h:3', weight: 0 }] },
      'endpoints[2].weight: expected a positive integer',
    ],
    ['fractional weight', { endpoints: [{ ...endpoint, weight: 1.5 }] }, 'endpoints[0].weight: expected a positive integer'],
    ['no workers', withPatch({ server: { workers: 0 } }), 'server.workers: expected a positive integer or auto'],
    ['workers as a word', withPatch({ server: { workers: 'all' } }), 'server.workers: expected a positive integer or auto'],
    ['weight as text', { endpoints: [{ ...endpoint, weight: 'two' }] }, 'endpoints[0].weight: expected a positive integer'],
    ['wrong type', withPatch({ logging: { access_log: 'yes' } }), 'logging.access_log: expected true or false, got the string "yes"'],
    ['section of wrong type', withPatch({ server: 8080 }), 'server: expected a mapping, got the number 8080'],
    ['unknown root key', withPatch({ foo: 1 }), 'unknown key "foo"'],
    ['unknown nested key', withPatch({ server: { prot: 1 } }), 'server: unknown key "prot"'],
    ['unknown endpoint key', { endpoints: [{ ...endpoint, wieght: 2 }] }, 'endpoints[0]: unknown key "wieght"'],
    [
      'bad strategy',
      withPatch({ balancing: { strategy: 'fastest' } }),
      'balancing.strategy: expected one of round-robin, least-connections, random-two, load-aware, prefix-aware',
    ],
    ['bad log level', withPatch({ logging: { level: 'trace' } }), 'logging.level: expected one of error, warn, info, debug'],
    [
      'bad endpoint type',
      { endpoints: [{ ...endpoint, type: 'tgi' }] },
      'endpoints[0].type: expected one of ollama, vllm, lmstudio, llamacpp, openai, generic',
    ],
    ['bare number duration', withPatch({ breaker: { open_duration: 30 } }), 'breaker.open_duration: expected a duration like 500ms, 5s, 1m'],
    ['bad duration unit', { endpoints: [{ ...endpoint, check_interval: '5sec' }] }, 'endpoints[0].check_interval: expected a duration like 500ms, 5s, 1m'],
    ['zero timeout', withPatch({ proxy: { connect_timeout: '0s' } }), 'proxy.connect_timeout: expected a duration greater than 0'],
    // Accepted, then thrown on when the Basic header was built: a crash at start, a reload half applied.
    ['a bad percent-escape in URL credentials', withPatch({ endpoints: [{ name: 'x', url: 'http://us%zz:pw@127.0.0.1:9' }] }), 'endpoints[0].url: the user name or password has a bad percent-escape (write % as %25)'],
    // 720h would be a timer of 2,592,000,000 ms, which Node.js fires after 1 ms.
    ['a duration past what a timer can wait', withPatch({ discovery: { interval: '720h' } }), 'discovery.interval: expected a duration of at most 596h (Node.js timers cannot wait longer)'],
    ['bad size', withPatch({ limits: { max_body: '10 megs' } }), 'limits.max_body: expected a size like 512KiB, 10MiB'],
    ['zero size', withPatch({ limits: { max_body: 0 } }), 'limits.max_body: expected a size greater than 0'],
    ['total of bodies under one body', withPatch({ limits: { max_body: '10MiB', max_body_total: '1MiB' } }), 'limits.max_body_total: must be at least limits.max_body'],
    ['unparseable url', { endpoints: [{ ...endpoint, url: 'localhost:11434' }] }, 'endpoints[0].url: expected an http or https URL'],
    ['not a url', { endpoints: [{ ...endpoint, url: 'not a url' }] }, 'endpoints[0].url: expected a URL like http://127.0.0.1:11434'],
    ['ftp url', { endpoints: [{ ...endpoint, url: 'ftp://h/x' }] }, 'endpoints[0].url: expected an http or https URL'],
    ['url with query', { endpoints: [{ ...endpoint, url: 'http://h:1/?key=1' }] }, 'endpoints[0].url: must not contain a query string or fragment'],
    ['url with fragment', { endpoints: [{ ...endpoint, url: 'http://h:1/#x' }] }, 'endpoints[0].url: must not contain a query string or fragment'],
    // Members are reached by IP address: a certificate for the host name would fail every check.
    ['dns discovery of an https url', { endpoints: [{ ...endpoint, url: 'https://model.test:8443', discover: 'dns' }] }, 'endpoints[0].discover: discover: dns is not supported with an https:// url (members are reached by IP address, which a certificate for the host name does not cover); use http://, or list the endpoints'],
    ['a fragment in health_path', { endpoints: [{ ...endpoint, health_path: '/health#x' }] }, 'endpoints[0].health_path: expected a path without a "#" fragment'],
    [
      'duplicate names',
      { endpoints: [endpoint, { name: 'a', url: 'http://h:2' }] },
      'endpoints[1].name: duplicate endpoint name "a"',
    ],
    ['bad name', { endpoints: [{ ...endpoint, name: 'gpu 1' }] }, 'endpoints[0].name: expected 1-64 characters from A-Z a-z 0-9 . _ -'],
    ['name too long', { endpoints: [{ ...endpoint, name: 'x'.repeat(65) }] }, 'endpoints[0].name: expected 1-64 characters from A-Z a-z 0-9 . _ -'],
    ['missing name', { endpoints: [{ url: 'http://h:1' }] }, 'endpoints[0].name: required'],
    ['missing url', { endpoints: [{ name: 'a' }] }, 'endpoints[0].url: required'],
    ['missing endpoints', {}, 'endpoints: required'],
    ['empty endpoints', { endpoints: [] }, 'endpoints: expected at least one endpoint'],
    ['endpoints not a list', { endpoints: { a: 1 } }, 'endpoints: expected a list of endpoints'],
    ['port out of range', withPatch({ server: { port: 70000 } }), 'server.port: expected a port number 1-65535'],
    ['admin port equals port', withPatch({ server: { port: 9000, admin_port: 9000 } }), 'server.admin_port: must differ from server.port'],
    ['headers timeout over request timeout', withPatch({ server: { headers_timeout: '2m', request_timeout: '1m' } }), 'server.headers_timeout: must not exceed server.request_timeout'],
    ['unknown discover mode', { endpoints: [{ ...endpoint, discover: 'srv' }] }, 'endpoints[0].discover: expected dns'],
    ['retries out of range', withPatch({ proxy: { retries: 11 } }), 'proxy.retries: expected an integer from 0 to 10'],
    ['retry status out of range', withPatch({ proxy: { retry_on_status: [502, 200] } }), 'proxy.retry_on_status[1]: expected an HTTP status 400-599'],
    ['error ratio above 1', withPatch({ health: { degraded_error_ratio: 1.5 } }), 'health.degraded_error_ratio: expected a number from 0 to 1'],
    ['load factor not above 1', withPatch({ balancing: { sticky: { key: 'ip', max_load_factor: 1 } } }), 'balancing.sticky.max_load_factor: expected a number greater than 1'],
    ['sticky without key', withPatch({ balancing: { sticky: {} } }), 'balancing.sticky.key: required'],
    ['bad sticky key', withPatch({ balancing: { sticky: { key: 'session' } } }), 'balancing.sticky.key: expected ip, forwarded-for, header:<Name> or cookie:<name>'],
    [
      'bad trusted proxy',
      withPatch({ balancing: { sticky: { key: 'ip', trusted_proxies: ['10.0.0.0/8', '10.0.0.0/33'] } } }),
      'balancing.sticky.trusted_proxies[1]: expected an IP address or CIDR like 10.0.0.0/8 or fd00::/8',
    ],
    [
      'hostname as trusted proxy',
      withPatch({ balancing: { sticky: { key: 'ip', trusted_proxies: ['proxy.local'] } } }),
      'balancing.sticky.trusted_proxies[0]: expected an IP address or CIDR like 10.0.0.0/8 or fd00::/8',
    ],
    ['health path without slash', { endpoints: [{ ...endpoint, health_path: 'health' }] }, 'endpoints[0].health_path: expected a path starting with "/"'],
    ['bad expected status', { endpoints: [{ ...endpoint, health_expected_status: 99 }] }, 'endpoints[0].health_expected_status: expected an HTTP status 100-599'],
    ['bad env name', { endpoints: [{ ...endpoint, bearer_token_env: 'MY-KEY' }] }, 'endpoints[0].bearer_token_env: expected an environment variable name like OPENAI_API_KEY'],
    ['max connections zero', { endpoints: [{ ...endpoint, max_connections: 0 }] }, 'endpoints[0].max_connections: expected a positive integer'],
    ['not a mapping', [] as unknown as Record<string, unknown>, 'expected a mapping, got a list'],
  ])('%s', (_label, raw, expected) => {
    expect(issuesOf(raw)).toContain(expected);
  });

  it('reports one line per unknown key', () => {
    expect(issuesOf(withPatch({ server: { a: 1, b: 2 } }))).toEqual(['server: unknown key "a"', 'server: unknown key "b"']);
  });

  it('reports every problem at once', () => {
    const issues = issuesOf({ server: { port: 0 }, endpoints: [{ name: 'a', url: 'ftp://x', weight: -1 }] });
    expect(issues).toEqual([
      'server.port: expected a port number 1-65535',
      'endpoints[0].url: expected an http or https URL',
      'endpoints[0].weight: expected a positive integer',
    ]);
  });
});

describe('ConfigError', () => {
  it('carries a code and lists issues one per line, prefixed with the source', () => {
    const error = rejection(() => parseConfig('server:\n  port: 0\nextra: 1\n', 'sluice.yaml'));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.issues).toEqual([
      'server.port: expected a port number 1-65535 (line 2)',
      'endpoints: required',
      'unknown key "extra" (line 3)',
    ]);
    expect(error.message.split('\n')).toEqual([
      'sluice.yaml: server.port: expected a port number 1-65535 (line 2)',
      'sluice.yaml: endpoints: required',
      'sluice.yaml: unknown key "extra" (line 3)',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(() => parseConfig('endpoints: [\n', 'bad.yaml')).toThrow(/^bad\.yaml: .*line 2/);
    expect(() => parseConfig('a: 1\na: 2\n', 'dup.yaml')).toThrow(/^dup\.yaml: Map keys must be unique at line 2, column 1$/);
  });

  it('treats an empty file as an empty mapping', () => {
    expect(() => parseConfig('', 'empty.yaml')).toThrow(/^empty\.yaml: endpoints: required$/);
  });
});

describe('source lines', () => {
  const yaml = ['server:', '  port: 8080', 'endpoints:', '  - name: a', '    url: http://h:1', '  - name: b', '    url: http://h:2', '    wieght: 2', '    weight: 0', '  - name: c', ''].join('\n');

  it('name the YAML line of each offending key, or of the item that lacks a required one', () => {
    expect(rejectionIssues(() => parseConfig(yaml, 'f.yaml'))).toEqual([
      'endpoints[1].weight: expected a positive integer (line 9)',
      'endpoints[1]: unknown key "wieght" (line 8)',
      'endpoints[2].url: required (line 10)',
    ]);
  });

  it('are left out for values that come from no file', () => {
    expect(issuesOf({ endpoints: [{ ...endpoint, weight: 0 }] })).toEqual(['endpoints[0].weight: expected a positive integer']);
  });
});
