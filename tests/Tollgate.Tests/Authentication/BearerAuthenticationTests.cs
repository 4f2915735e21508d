using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Time.Testing;
using Tollgate.ApiKeys;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Authentication;

public sealed class BearerAuthenticationTests(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    private const string InvalidKeyBody = """{"error":{"code":401,"message":"Invalid API key","metadata":{}}}""";
    private const string MissingKeyBody = """{"error":{"code":401,"message":"Missing API key: send it as \"Authorization: Bearer YOUR_API_KEY\"","metadata":{}}}""";

    private static async Task AssertInvalidKeyAsync(HttpResponseMessage response, string body = InvalidKeyBody)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(body, await response.Content.ReadAsStringAsync());
        Assert.True(response.Headers.Contains("x-request-id"));
    }

    [Fact]
    public async Task Request_WithoutAuthorizationHeader_Gets401MissingKeyBody()
    {
        using var client = factory.Client();

        using var response = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);

        await AssertInvalidKeyAsync(response, MissingKeyBody);
    }

    [Theory]
    [InlineData("Bearer garbage")]
    [InlineData("Bearer ")]
    [InlineData("Bearer sk-tg-v1-")]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("sk-tg-v1-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Request_WithGarbageKey_Gets401InvalidKeyBody(string header)
    {
        using var client = factory.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/api-keys");
        request.Headers.TryAddWithoutValidation("Authorization", header);

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        await AssertInvalidKeyAsync(response);
    }

    [Fact]
    public async Task Request_WithBrokenChecksum_IsRefusedBeforeStorageIsTouched()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        var broken = secret[..^1] + (secret[^1] == 'A' ? 'B' : 'A');
        using var client = factory.Client(broken);
        var lookupsBefore = factory.CountingStore!.SecretLookups;

        using var response = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);

        await AssertInvalidKeyAsync(response);
        Assert.Equal(lookupsBefore, factory.CountingStore.SecretLookups);
    }

    [Fact]
    public async Task Request_WithWellFormedUnknownKey_Gets401InvalidKeyBody()
    {
        factory.StartServer();
        using var client = factory.Client(ApiKeySecret.Generate());
        var lookupsBefore = factory.CountingStore!.SecretLookups;

        using var response = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);

        await AssertInvalidKeyAsync(response);
        Assert.Equal(lookupsBefore + 1, factory.CountingStore.SecretLookups);
    }

    [Fact]
    public async Task Request_WithValidKey_IsServedAndRepeatedCallsHitTheCache()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        using var client = factory.Client(secret);

        using var first = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);
        var lookupsAfterFirst = factory.CountingStore!.SecretLookups;
        for (var i = 0; i < 5; i++)
        {
            using var again = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(lookupsAfterFirst, factory.CountingStore.SecretLookups);
    }

    [Fact]
    public async Task Request_SchemeInAnyCase_IsAccepted()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        using var client = factory.Client();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/api-keys");
        request.Headers.TryAddWithoutValidation("Authorization", "bearer " + secret);

        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Request_WithExpiredKey_Gets401InvalidKeyBody()
    {
        var account = await factory.CreateAccountAsync();
        var secret = ApiKeySecret.Generate();
        await factory.Service<IApiKeyStore>().InsertAsync(new ApiKey
        {
            Id = "key_expired" + Guid.NewGuid().ToString("N")[..8],
            AccountId = account.Id,
            Name = "expired",
            Label = ApiKeySecret.Label(secret),
            Scopes = ApiKeyScopes.All,
            CreatedAt = DateTimeOffset.UtcNow.AddDays(-2),
            ExpiresAt = DateTimeOffset.UtcNow.AddDays(-1),
        }, ApiKeySecret.Hash(secret), CancellationToken.None);
        using var client = factory.Client(secret);

        using var response = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);

        await AssertInvalidKeyAsync(response);
    }

    [Fact]
    public async Task Request_AfterDeleteReturned_IsRefusedEveryTime()
    {
        var account = await factory.CreateAccountAsync();
        var (_, adminSecret) = await factory.CreateKeyAsync(account.Id);
        using var admin = factory.Client(adminSecret);

        for (var round = 0; round < 20; round++)
        {
            var (victim, victimSecret) = await factory.CreateKeyAsync(account.Id);
            using var victimClient = factory.Client(victimSecret);
            using (var warm = await victimClient.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken))
            {
                Assert.Equal(HttpStatusCode.OK, warm.StatusCode); // now cached
            }

            using (var deleted = await admin.DeleteAsync($"/api/v1/api-keys/{victim.Id}", TestContext.Current.CancellationToken))
            {
                Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
            }

            using var after = await victimClient.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);
            await AssertInvalidKeyAsync(after);
        }
    }

    [Fact]
    public async Task Request_AfterKeyDisabled_IsRefusedAtOnceAndWorksWhenReEnabled()
    {
        var account = await factory.CreateAccountAsync();
        var (_, adminSecret) = await factory.CreateKeyAsync(account.Id);
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        using var admin = factory.Client(adminSecret);
        using var client = factory.Client(secret);
        using (var warm = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        using (var disable = await admin.PatchAsync($"/api/v1/api-keys/{key.Id}", Json.Body("""{"disabled":true}"""), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        }

        using (var refused = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken))
        {
            await AssertInvalidKeyAsync(refused);
        }

        using (var enable = await admin.PatchAsync($"/api/v1/api-keys/{key.Id}", Json.Body("""{"disabled":false}"""), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, enable.StatusCode);
        }

        using var served = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task Request_WithReadOnlyKeyOnWriteEndpoint_Gets403MissingScope()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"ro","scopes":["keys:read"]}""");
        using var client = factory.Client(secret);

        using var response = await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"x"}"""), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("missing_scope", error.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal("keys:write", error.GetProperty("metadata").GetProperty("required_scope").GetString());
    }

    [Fact]
    public async Task Request_WithInferenceOnlyKeyOnKeyList_Gets403MissingScope()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"inf","scopes":["inference"]}""");
        using var client = factory.Client(secret);

        using var response = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("keys:read", error.GetProperty("metadata").GetProperty("required_scope").GetString());
    }
}

/// <summary>Rotation grace periods, on a clock the test moves.</summary>
public sealed class KeyRotationTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TollgateFactory _factory;

    public KeyRotationTests() => _factory = new TollgateFactory([], _time);

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task Rotate_WithoutGrace_OldSecretRefusedAtOnceNewSecretWorks()
    {
        var account = await _factory.CreateAccountAsync();
        var (key, oldSecret) = await _factory.CreateKeyAsync(account.Id);
        using var oldClient = _factory.Client(oldSecret);
        using (var warm = await oldClient.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        using var rotate = await oldClient.PostAsync($"/api/v1/api-keys/{key.Id}/rotate", null, TestContext.Current.CancellationToken);
        var body = await rotate.ReadAsync();
        var newSecret = body.GetProperty("key").GetString()!;

        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        Assert.Equal(key.Id, body.GetProperty("data").GetProperty("id").GetString());
        Assert.Equal(ApiKeySecret.Label(newSecret), body.GetProperty("data").GetProperty("label").GetString());
        Assert.NotEqual(oldSecret, newSecret);
        using (var refused = await oldClient.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        using var newClient = _factory.Client(newSecret);
        using var served = await newClient.GetAsync($"/api/v1/api-keys/{key.Id}", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task Rotate_WithGrace_OldSecretWorksUntilGraceEnds()
    {
        var account = await _factory.CreateAccountAsync();
        var (key, oldSecret) = await _factory.CreateKeyAsync(account.Id);
        using var oldClient = _factory.Client(oldSecret);

        using var rotate = await oldClient.PostAsync($"/api/v1/api-keys/{key.Id}/rotate", Json.Body("""{"grace_seconds":60}"""), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        var newSecret = (await rotate.ReadAsync()).GetProperty("key").GetString()!;

        using (var during = await oldClient.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
        }

        _time.Advance(TimeSpan.FromSeconds(61));
        using (var after = await oldClient.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        }

        using var newClient = _factory.Client(newSecret);
        using var served = await newClient.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    [Fact]
    public async Task Rotate_GraceOutOfRange_Gets400NamingTheField()
    {
        var account = await _factory.CreateAccountAsync();
        var (key, secret) = await _factory.CreateKeyAsync(account.Id);
        using var client = _factory.Client(secret);

        using var response = await client.PostAsync($"/api/v1/api-keys/{key.Id}/rotate", Json.Body("""{"grace_seconds":-5}"""), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal("grace_seconds", error.GetProperty("metadata").GetProperty("param").GetString());
    }

    [Fact]
    public async Task Request_KeyPastItsExpiry_IsRefusedEvenWhenCached()
    {
        var account = await _factory.CreateAccountAsync();
        var expires = _time.GetUtcNow().AddSeconds(30).ToString("O");
        var (_, secret) = await _factory.CreateKeyAsync(account.Id, $$"""{"name":"short","expires_at":"{{expires}}"}""");
        using var client = _factory.Client(secret);
        using (var before = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        _time.Advance(TimeSpan.FromSeconds(31)); // still inside the cache TTL (60 s)

        using var after = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }
}
