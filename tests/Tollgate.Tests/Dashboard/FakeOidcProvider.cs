using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Tollgate.Tests.Dashboard;

/// <summary>
/// An OpenID Connect provider on a real Kestrel server (port 0), small but honest: discovery, a JWKS with an RSA
/// key, an authorize endpoint that signs in whoever <see cref="NextUser"/> says (no login page) and redirects back
/// with a code, and a token endpoint that checks the PKCE verifier and returns a signed id_token carrying the nonce.
/// </summary>
internal sealed class FakeOidcProvider : IAsyncDisposable
{
    public const string ClientId = "tollgate-test";
    public const string ClientSecret = "test-client-secret";

    private readonly WebApplication _app;
    private readonly RsaSecurityKey _key = new(RSA.Create(2048)) { KeyId = "test-key" };
    private readonly ConcurrentDictionary<string, (string Nonce, string Challenge, (string Email, bool Verified, string Name) User)> _codes = new();

    private FakeOidcProvider(WebApplication app) => _app = app;

    public Uri Authority { get; private set; } = null!;

    /// <summary>Who the provider says signed in at the next authorization.</summary>
    public (string Email, bool Verified, string Name) NextUser { get; set; } = ("sso@example.com", true, "Sso User");

    public static async Task<FakeOidcProvider> StartAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.AddRoutingCore();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.Zero);
        var app = builder.Build();
        var provider = new FakeOidcProvider(app);
        app.MapGet("/.well-known/openid-configuration", provider.Discovery);
        app.MapGet("/jwks", provider.Jwks);
        app.MapGet("/authorize", provider.Authorize);
        app.MapPost("/token", provider.TokenAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        provider.Authority = new Uri(address.TrimEnd('/') + "/");
        return provider;
    }

    private string Issuer => Authority.ToString().TrimEnd('/');

    private IResult Discovery() => Results.Json(new Dictionary<string, object>
    {
        ["issuer"] = Issuer,
        ["authorization_endpoint"] = Issuer + "/authorize",
        ["token_endpoint"] = Issuer + "/token",
        ["jwks_uri"] = Issuer + "/jwks",
        ["response_types_supported"] = new[] { "code" },
        ["subject_types_supported"] = new[] { "public" },
        ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        ["code_challenge_methods_supported"] = new[] { "S256" },
    });

    private IResult Jwks()
    {
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(_key);
        return Results.Json(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = _key.KeyId, n = jwk.N, e = jwk.E } } });
    }

    private IResult Authorize(HttpRequest request)
    {
        var query = request.Query;
        if (query["client_id"] != ClientId || query["response_type"] != "code" || query["code_challenge_method"] != "S256")
        {
            return Results.BadRequest("bad authorization request");
        }

        var code = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        _codes[code] = (query["nonce"].ToString(), query["code_challenge"].ToString(), NextUser);
        var redirect = $"{query["redirect_uri"]}?code={code}&state={Uri.EscapeDataString(query["state"].ToString())}";
        return Results.Redirect(redirect);
    }

    private async Task<IResult> TokenAsync(HttpRequest request)
    {
        var form = await request.ReadFormAsync();
        if (!_codes.TryRemove(form["code"].ToString(), out var grant))
        {
            return Results.BadRequest(new { error = "invalid_grant" });
        }

        var verifier = form["code_verifier"].ToString();
        var challenge = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        if (challenge != grant.Challenge || form["client_id"] != ClientId || form["client_secret"] != ClientSecret)
        {
            return Results.BadRequest(new { error = "invalid_grant" });
        }

        var now = DateTime.UtcNow;
        var idToken = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = ClientId,
            IssuedAt = now,
            NotBefore = now,
            Expires = now.AddMinutes(5),
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.RsaSha256),
            Subject = new ClaimsIdentity(
            [
                new Claim("sub", "user-" + grant.User.Email),
                new Claim("email", grant.User.Email),
                new Claim("email_verified", grant.User.Verified ? "true" : "false", ClaimValueTypes.Boolean),
                new Claim("name", grant.User.Name),
                new Claim("nonce", grant.Nonce),
            ]),
        });
        return Results.Json(new { access_token = "fake-access-token", token_type = "Bearer", expires_in = 300, id_token = idToken });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
