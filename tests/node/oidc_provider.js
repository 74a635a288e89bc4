// A real OpenID Provider (node-oidc-provider) for the tests' single sign-on.
//
//   node oidc_provider.js [PORT] [CLIENT_ID] [CLIENT_SECRET] [REDIRECT_URI]
//
// (or OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI). Listens on
// 127.0.0.1 (port 0: any free port) and prints one line once it serves (below).
// One confidential client; it is a "native" client whose loopback redirect URI matches
// on any port (RFC 8252), so the provider can start before the gateway it serves.
// The login form is the package's development interaction: the login is an account id
// below (any password is taken); "groups" is released with the "profile" scope.
// The line printed at start is JSON: {"issuer": ..., "accounts": {login: claims}}.
import http from 'node:http';
import Provider from 'oidc-provider';

const [portArg, clientIdArg, clientSecretArg, redirectArg] = process.argv.slice(2);
const port = Number(portArg ?? process.env.OIDC_PORT ?? 0);
const clientId = clientIdArg ?? process.env.OIDC_CLIENT_ID ?? 'gatehouse';
const clientSecret = clientSecretArg ?? process.env.OIDC_CLIENT_SECRET ?? 'gatehouse-test-secret';
const redirectUri = redirectArg ?? process.env.OIDC_REDIRECT_URI
  ?? 'http://127.0.0.1/portal/sign-in/oidc/callback';

const ACCOUNTS = {
  marketer: { email: 'mia.marketer@example.com', name: 'Mia Marketer', groups: ['mkt-growth'] },
  reviewer: { email: 'rey.reviewer@example.com', name: 'Rey Reviewer', groups: ['it-review'] },
  auditor: { email: 'aude.auditor@example.com', name: 'Aude Auditor', groups: ['dpo'] },
  outsider: { email: 'otto.outsider@example.com', name: 'Otto Outsider', groups: ['sales'] },
};

const server = http.createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      application_type: 'native',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'groups'],
    },
    async findAccount(ctx, id) {
      const account = ACCOUNTS[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, email_verified: true, ...account };
        },
      };
    },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    cookies: { keys: ['gatehouse-tests-only'] },
  });
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer, accounts: ACCOUNTS }));
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
