using System.Net;
using System.Text.Json;
using Tollgate.ApiKeys;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.ApiKeys;

public sealed class ApiKeysApiTests(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    private static readonly string[] KeyFields =
    [
        "created_at", "disabled", "expires_at", "id", "label", "last_used_at", "limit", "limit_remaining", "limit_reset",
        "models", "name", "rate_limit", "scopes", "usage", "usage_daily", "usage_monthly", "usage_weekly",
    ];

    private async Task<(string AccountId, HttpClient Client, ApiKey Key, string Secret)> NewAccountWithKeyAsync(string json = """{"name":"admin"}""")
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id, json);
        return (account.Id, factory.Client(secret), key, secret);
    }

    [Fact]
    public async Task Create_ValidRequest_Returns201WithKeyObjectAndSecretOnce()
    {
        var (_, client, _, _) = await NewAccountWithKeyAsync();

        using var response = await client.PostAsync("/api/v1/api-keys", Json.Body(
            """{"name":"ci","scopes":["inference"],"models":["anthropic/*"],"limit":2.5,"limit_reset":"monthly","rate_limit":{"requests_per_minute":60},"expires_at":"2099-01-01T00:00:00Z","unknown_field":{"ignored":true}}"""),
            TestContext.Current.CancellationToken);
        var body = await response.ReadAsync();

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(["data", "key"], body.PropertyNames());
        var secret = body.GetProperty("key").GetString()!;
        Assert.True(ApiKeySecret.IsWellFormed(secret));
        var data = body.GetProperty("data");
        Assert.Equal(KeyFields, data.PropertyNames());
        Assert.StartsWith("key_", data.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("ci", data.GetProperty("name").GetString());
        Assert.Equal(ApiKeySecret.Label(secret), data.GetProperty("label").GetString());
        Assert.Equal(["inference"], data.GetProperty("scopes").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["anthropic/*"], data.GetProperty("models").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(2.5m, data.GetProperty("limit").GetDecimal());
        Assert.Equal(2.5m, data.GetProperty("limit_remaining").GetDecimal());
        Assert.Equal("monthly", data.GetProperty("limit_reset").GetString());
        Assert.Equal(60, data.GetProperty("rate_limit").GetProperty("requests_per_minute").GetInt32());
        Assert.Equal("2099-01-01T00:00:00Z", data.GetProperty("expires_at").GetString());
        Assert.EndsWith("Z", data.GetProperty("created_at").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, data.GetProperty("last_used_at").ValueKind);
        Assert.False(data.GetProperty("disabled").GetBoolean());
    }

    [Fact]
    public async Task CreatedKey_Works_AndNoOtherEndpointEverShowsItsSecretOrHash()
    {
        var (_, client, _, _) = await NewAccountWithKeyAsync();
        using var created = await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"new"}"""), TestContext.Current.CancellationToken);
        var createdBody = await created.ReadAsync();
        var secret = createdBody.GetProperty("key").GetString()!;
        var id = createdBody.GetProperty("data").GetProperty("id").GetString()!;
        using var newClient = factory.Client(secret);

        var list = await (await newClient.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken)).Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var one = await (await newClient.GetAsync($"/api/v1/api-keys/{id}", TestContext.Current.CancellationToken)).Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var patched = await (await newClient.PatchAsync($"/api/v1/api-keys/{id}", Json.Body("""{"name":"renamed"}"""), TestContext.Current.CancellationToken)).Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        foreach (var text in new[] { list, one, patched })
        {
            Assert.Contains(id, text, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(secret[9..52], text, StringComparison.Ordinal);
            Assert.DoesNotContain(ApiKeySecret.Hash(secret), text, StringComparison.Ordinal);
        }

        Assert.Contains("\"renamed\"", patched, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_ReturnsOnlyTheCallersAccountKeys()
    {
        var (accountId, client, key, _) = await NewAccountWithKeyAsync();
        var (otherKey, _) = await factory.CreateKeyAsync((await factory.CreateAccountAsync()).Id);
        var (secondKey, _) = await factory.CreateKeyAsync(accountId, """{"name":"second"}""");

        using var response = await client.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);
        var body = await response.ReadAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var ids = body.GetProperty("data").EnumerateArray().Select(k => k.GetProperty("id").GetString()!).ToArray();
        Assert.Equal([key.Id, secondKey.Id], ids);
        Assert.DoesNotContain(otherKey.Id, ids);
        Assert.All(body.GetProperty("data").EnumerateArray(), k => Assert.Equal(KeyFields, k.PropertyNames()));
    }

    [Fact]
    public async Task Get_AnotherAccountsKeyId_Answers404ExactlyLikeAMissingId()
    {
        var (_, client, _, _) = await NewAccountWithKeyAsync();
        var (otherKey, _) = await factory.CreateKeyAsync((await factory.CreateAccountAsync()).Id);

        foreach (var (method, suffix, body) in new (HttpMethod, string, string?)[]
                 {
                     (HttpMethod.Get, "", null), (HttpMethod.Patch, "", """{"name":"x"}"""),
                     (HttpMethod.Delete, "", null), (HttpMethod.Post, "/rotate", null),
                 })
        {
            using var foreign = await SendAsync(client, method, $"/api/v1/api-keys/{otherKey.Id}{suffix}", body, "req-foreign");
            using var missing = await SendAsync(client, method, $"/api/v1/api-keys/key_doesnotexist000000{suffix}", body, "req-foreign");

            Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
            Assert.Equal(await missing.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), await foreign.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            await foreign.AssertErrorAsync(HttpStatusCode.NotFound);
        }

        // And the other account's key was not touched.
        Assert.NotNull(await factory.Service<IApiKeyStore>().GetAsync(otherKey.AccountId, otherKey.Id, CancellationToken.None));
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string? body, string requestId)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : Json.Body(body) };
        request.Headers.Add("X-Request-Id", requestId);
        return client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Delete_OwnKey_ReturnsDeletedAndTheKeyDisappears()
    {
        var (accountId, client, _, _) = await NewAccountWithKeyAsync();
        var (victim, _) = await factory.CreateKeyAsync(accountId, """{"name":"victim"}""");

        using var response = await client.DeleteAsync($"/api/v1/api-keys/{victim.Id}", TestContext.Current.CancellationToken);
        using var again = await client.DeleteAsync($"/api/v1/api-keys/{victim.Id}", TestContext.Current.CancellationToken);
        using var get = await client.GetAsync($"/api/v1/api-keys/{victim.Id}", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{\"data\":{\"id\":\"" + victim.Id + "\",\"deleted\":true}}", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        await again.AssertErrorAsync(HttpStatusCode.NotFound);
        await get.AssertErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Create_WithScopeTheCallerLacks_Gets403MissingScope()
    {
        var (_, client, _, _) = await NewAccountWithKeyAsync("""{"name":"writer","scopes":["keys:read","keys:write"]}""");

        using var response = await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"wider","scopes":["keys:read","inference"]}"""), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("missing_scope", error.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal("inference", error.GetProperty("metadata").GetProperty("required_scope").GetString());
    }

    [Fact]
    public async Task Create_WithoutScopes_InheritsTheCallersScopesAndModels()
    {
        var (_, client, _, _) = await NewAccountWithKeyAsync("""{"name":"writer","scopes":["keys:read","keys:write"],"models":["openai/*"]}""");

        using var response = await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"child"}"""), TestContext.Current.CancellationToken);
        var data = (await response.ReadAsync()).GetProperty("data");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(["keys:read", "keys:write"], data.GetProperty("scopes").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["openai/*"], data.GetProperty("models").EnumerateArray().Select(e => e.GetString()));
    }

    [Theory]
    [InlineData("""{"name":"all","models":null}""")]
    [InlineData("""{"name":"other","models":["anthropic/*"]}""")]
    [InlineData("""{"name":"star","models":["*"]}""")]
    public async Task Create_WithModelsBeyondTheCallersAllowList_Gets403ModelNotAllowed(string json)
    {
        var (_, client, _, _) = await NewAccountWithKeyAsync("""{"name":"writer","models":["openai/*"]}""");

        using var response = await client.PostAsync("/api/v1/api-keys", Json.Body(json), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("model_not_allowed", error.GetProperty("metadata").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Patch_WideningScopesBeyondTheCaller_Gets403AndSoDoesTouchingAWiderKey()
    {
        var (accountId, client, _, _) = await NewAccountWithKeyAsync("""{"name":"writer","scopes":["keys:read","keys:write"]}""");
        var (target, _) = await factory.CreateKeyAsync(accountId, """{"name":"target","scopes":["keys:read"]}""");
        var (wide, _) = await factory.CreateKeyAsync(accountId, """{"name":"wide"}""");

        using var widen = await client.PatchAsync($"/api/v1/api-keys/{target.Id}", Json.Body("""{"scopes":["keys:read","usage:read"]}"""), TestContext.Current.CancellationToken);
        using var narrowWide = await client.PatchAsync($"/api/v1/api-keys/{wide.Id}", Json.Body("""{"scopes":["keys:read"]}"""), TestContext.Current.CancellationToken);
        using var narrowOwn = await client.PatchAsync($"/api/v1/api-keys/{target.Id}", Json.Body("""{"name":"renamed"}"""), TestContext.Current.CancellationToken);

        var error = await widen.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("usage:read", error.GetProperty("metadata").GetProperty("required_scope").GetString());
        var wider = await narrowWide.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("exceeds_authority", wider.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.OK, narrowOwn.StatusCode);
        Assert.Equal("renamed", (await narrowOwn.ReadAsync()).GetProperty("data").GetProperty("name").GetString());
    }

    [Fact]
    public async Task Rotate_KeyWiderThanTheCaller_Gets403AndKeepsTheOldSecret()
    {
        var (accountId, client, _, _) = await NewAccountWithKeyAsync("""{"name":"writer","scopes":["keys:read","keys:write"]}""");
        var (wide, wideSecret) = await factory.CreateKeyAsync(accountId, """{"name":"wide"}""");

        using var response = await client.PostAsync($"/api/v1/api-keys/{wide.Id}/rotate", null, TestContext.Current.CancellationToken);

        await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        using var wideClient = factory.Client(wideSecret);
        using var stillWorks = await wideClient.GetAsync("/api/v1/api-keys", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, stillWorks.StatusCode);
    }

    [Fact]
    public async Task Patch_ChangesOnlyTheFieldsSentAndNullClears()
    {
        var (accountId, client, _, _) = await NewAccountWithKeyAsync();
        var (target, _) = await factory.CreateKeyAsync(accountId, """{"name":"t","limit":5,"limit_reset":"daily","models":["openai/*"],"rate_limit":{"requests_per_minute":10}}""");

        using var response = await client.PatchAsync($"/api/v1/api-keys/{target.Id}", Json.Body("""{"limit":null,"models":null,"name":"renamed"}"""), TestContext.Current.CancellationToken);
        var data = (await response.ReadAsync()).GetProperty("data");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("renamed", data.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, data.GetProperty("limit").ValueKind);
        Assert.Equal(JsonValueKind.Null, data.GetProperty("models").ValueKind);
        Assert.Equal("daily", data.GetProperty("limit_reset").GetString());
        Assert.Equal(10, data.GetProperty("rate_limit").GetProperty("requests_per_minute").GetInt32());
        var stored = await factory.Service<IApiKeyStore>().GetAsync(accountId, target.Id, CancellationToken.None);
        Assert.Equal("renamed", stored!.Name);
        Assert.Null(stored.LimitNanos);
    }

    [Theory]
    [InlineData("""{"scopes":["inference","root"]}""", "scopes")]
    [InlineData("""{"name":"x","scopes":[]}""", "scopes")]
    [InlineData("""{"name":"x","scopes":"inference"}""", "scopes")]
    [InlineData("""{"name":42}""", "name")]
    [InlineData("""{"name":""}""", "name")]
    [InlineData("""{"limit":-1}""", "limit")]
    [InlineData("""{"limit":"5"}""", "limit")]
    [InlineData("""{"limit_reset":"hourly"}""", "limit_reset")]
    [InlineData("""{"models":["gpt-4o"]}""", "models")]
    [InlineData("""{"models":"openai/*"}""", "models")]
    [InlineData("""{"expires_at":"2001-01-01T00:00:00Z"}""", "expires_at")]
    [InlineData("""{"expires_at":"tomorrow"}""", "expires_at")]
    [InlineData("""{"disabled":"yes"}""", "disabled")]
    [InlineData("""{"rate_limit":{"requests_per_minute":0}}""", "rate_limit.requests_per_minute")]
    [InlineData("""{"rate_limit":5}""", "rate_limit")]
    public async Task Patch_InvalidField_Gets400NamingTheField(string json, string param)
    {
        var (_, client, key, _) = await NewAccountWithKeyAsync();

        using var response = await client.PatchAsync($"/api/v1/api-keys/{key.Id}", Json.Body(json), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal(param, error.GetProperty("metadata").GetProperty("param").GetString());
        Assert.Contains(param.Split('.')[0], error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_WithoutName_Gets400NamingTheField()
    {
        var (_, client, _, _) = await NewAccountWithKeyAsync();

        using var response = await client.PostAsync("/api/v1/api-keys", Json.Body("""{"scopes":["inference"]}"""), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal("name is required", error.GetProperty("message").GetString());
        Assert.Equal("name", error.GetProperty("metadata").GetProperty("param").GetString());
    }

    [Theory]
    [InlineData("{\"name\":")]
    [InlineData("not json")]
    [InlineData("")]
    [InlineData("[1,2]")]
    [InlineData("\"just a string\"")]
    public async Task Create_MalformedBody_Gets400SayingWhatIsWrong(string body)
    {
        var (_, client, _, _) = await NewAccountWithKeyAsync();

        using var response = await client.PostAsync("/api/v1/api-keys", Json.Body(body), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Matches("JSON", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Create_PastTheAccountsKeyLimit_Gets400()
    {
        using var small = new TollgateFactory(new() { ["Tollgate:ApiKeys:MaxKeysPerAccount"] = "2" });
        var account = await small.CreateAccountAsync();
        var (_, secret) = await small.CreateKeyAsync(account.Id);
        using var client = small.Client(secret);

        using var second = await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"2"}"""), TestContext.Current.CancellationToken);
        using var third = await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"3"}"""), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        var error = await third.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Contains("most API keys", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LastUsedAt_AfterAUse_IsShownAtOnceAndWrittenInABatch()
    {
        var (accountId, client, key, _) = await NewAccountWithKeyAsync();

        using var response = await client.GetAsync($"/api/v1/api-keys/{key.Id}", TestContext.Current.CancellationToken);
        var lastUsed = (await response.ReadAsync()).GetProperty("data").GetProperty("last_used_at");

        Assert.Equal(JsonValueKind.String, lastUsed.ValueKind);
        ApiKey? stored = null;
        for (var i = 0; i < 50 && stored?.LastUsedAt is null; i++)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken); // the test factory flushes every 100 ms
            stored = await factory.Service<IApiKeyStore>().GetAsync(accountId, key.Id, CancellationToken.None);
        }

        Assert.NotNull(stored?.LastUsedAt);
    }
}
