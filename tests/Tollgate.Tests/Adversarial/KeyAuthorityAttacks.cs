using System.Net;
using System.Text.Json;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Http;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// A key trying to act above its authority: minting credits without the <c>admin</c> scope, and
/// creating, changing, rotating or deleting keys wider than itself (SPEC section 5).
/// </summary>
public sealed class KeyAuthorityAttacks(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    /// <summary>A key bounded in every way: some scopes, some models, a monthly limit, an expiry and a rate limit.</summary>
    private const string Bounded =
        """{"name":"bounded","scopes":["inference","keys:read","keys:write"],"models":["demo/*"],"limit":1,"limit_reset":"monthly","expires_at":"2098-01-01T00:00:00Z","rate_limit":{"requests_per_minute":60}}""";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private async Task<Account> AccountAsync(AccountRole role) =>
        (await factory.Service<AccountService>().CreateAsync($"{role}-{Guid.NewGuid():N}@example.com", null, role, null, CancellationToken.None)).Account;

    private static Task<HttpResponseMessage> GrantAsync(HttpClient client, string accountId, decimal amount) =>
        client.PostAsync("/api/v1/admin/credits", Json.Body($$"""{"account_id":"{{accountId}}","amount":{{amount}}}"""), Cancel);

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string reason, string? param = null)
    {
        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal(reason, error.GetProperty("metadata").GetProperty("reason").GetString());
        if (param is not null)
        {
            Assert.Equal(param, error.GetProperty("metadata").GetProperty("param").GetString());
        }
    }

    private static async Task<JsonElement> KeyDataAsync(HttpClient client, string keyId)
    {
        using var response = await client.GetAsync($"/api/v1/api-keys/{keyId}", Cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.ReadAsync()).GetProperty("data");
    }

    private static async Task<(string Id, string Secret)> CreateThroughApiAsync(HttpClient client, string json)
    {
        using var response = await client.PostAsync("/api/v1/api-keys", Json.Body(json), Cancel);
        var body = await response.ReadAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body.ToString());
        return (body.GetProperty("data").GetProperty("id").GetString()!, body.GetProperty("key").GetString()!);
    }

    // Issue 9, item 9
    [Fact]
    public async Task GrantCredits_OwnerKeyWithOnlyKeysWrite_Answers403AndMintsNothing()
    {
        var owner = await AccountAsync(AccountRole.Owner);
        var (_, secret) = await factory.CreateKeyAsync(owner.Id, """{"name":"writer","scopes":["keys:write"]}""");
        using var client = factory.Client(secret);

        using var response = await GrantAsync(client, owner.Id, 1_000_000m);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("missing_scope", error.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal("admin", error.GetProperty("metadata").GetProperty("required_scope").GetString());
        Assert.Equal(1_000_000_000L, await LedgerAudit.AssertBooksBalanceAsync(factory, owner.Id));
    }

    // Issue 9, item 9 (50 at once)
    [Fact]
    public async Task GrantCredits_FiftyConcurrentCallsWithAnOwnersDefaultKey_AllAnswer403()
    {
        var owner = await AccountAsync(AccountRole.Owner);
        var (_, secret) = await factory.CreateKeyAsync(owner.Id);
        using var client = factory.Client(secret);

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => GrantAsync(client, owner.Id, 1_000_000m)));

        foreach (var response in responses)
        {
            await AssertRefusedAsync(response, "missing_scope");
            response.Dispose();
        }

        Assert.Equal(1_000_000_000L, await LedgerAudit.AssertBooksBalanceAsync(factory, owner.Id));
    }

    // Issue 9, item 9
    [Fact]
    public async Task CreateOrPatchKey_AdminScopeFromAKeyWithoutIt_Answers403()
    {
        var owner = await AccountAsync(AccountRole.Owner);
        var (key, secret) = await factory.CreateKeyAsync(owner.Id);
        using var client = factory.Client(secret);

        using var create = await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"minter","scopes":["admin"]}"""), Cancel);
        using var patch = await client.PatchAsync($"/api/v1/api-keys/{key.Id}", Json.Body("""{"scopes":["inference","keys:read","keys:write","usage:read","admin"]}"""), Cancel);

        await AssertRefusedAsync(create, "missing_scope", "scopes");
        await AssertRefusedAsync(patch, "missing_scope", "scopes");
        Assert.DoesNotContain("admin", (await KeyDataAsync(client, key.Id)).GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        await LedgerAudit.AssertBooksBalanceAsync(factory, owner.Id);
    }

    // Issue 9, item 9
    [Fact]
    public async Task AdminScope_ForAMemberAccount_IsRefusedEvenWithoutACallerKey()
    {
        var member = await AccountAsync(AccountRole.Member);

        var error = await Assert.ThrowsAsync<ApiException>(() => factory.CreateKeyAsync(member.Id, """{"name":"minter","scopes":["inference","admin"]}"""));

        Assert.Equal(403, error.StatusCode);
        Assert.Equal("not_admin", error.Metadata?["reason"] as string);
        Assert.Empty(await factory.Service<IApiKeyStore>().ListAsync(member.Id, CancellationToken.None));
    }

    // Issue 9, item 9
    [Fact]
    public async Task AdminKey_ChildrenGetAdminOnlyWhenAskedAndNeverByDefault()
    {
        var admin = await AccountAsync(AccountRole.Admin);
        var member = await AccountAsync(AccountRole.Member);
        var (_, secret) = await factory.CreateKeyAsync(admin.Id, """{"name":"admin","scopes":["inference","keys:read","keys:write","usage:read","admin"]}""");
        using var client = factory.Client(secret);

        var (_, plainSecret) = await CreateThroughApiAsync(client, """{"name":"plain child"}""");
        var (_, adminSecret) = await CreateThroughApiAsync(client, """{"name":"admin child","scopes":["admin"]}""");
        using var plain = factory.Client(plainSecret);
        using var adminChild = factory.Client(adminSecret);
        using var plainGrant = await GrantAsync(plain, member.Id, 1_000_000m);
        using var adminGrant = await GrantAsync(adminChild, member.Id, 5m);

        await AssertRefusedAsync(plainGrant, "missing_scope");
        Assert.Equal(HttpStatusCode.OK, adminGrant.StatusCode);
        Assert.Equal(6_000_000_000L, await LedgerAudit.AssertBooksBalanceAsync(factory, member.Id));
    }

    // Issue 9, item 9: the command line is the way to grant; it gives admin keys to owners and admins only.
    [Fact]
    public async Task CliKeysCreate_AdminScope_OnlyForOwnerAndAdminAccounts()
    {
        var folder = Directory.CreateTempSubdirectory("tollgate-cli-").FullName;
        try
        {
            await TollgateProcess.RunAsync(folder, "accounts", "create", "--email", "owner@example.com");
            await TollgateProcess.RunAsync(folder, "accounts", "create", "--email", "member@example.com");

            var forOwner = await TollgateProcess.RunAsync(folder, "keys", "create", "--email", "owner@example.com", "--name", "grants", "--scopes", "admin");
            var forMember = await TollgateProcess.RunAsync(folder, "keys", "create", "--email", "member@example.com", "--name", "grants", "--scopes", "admin");

            Assert.True(forOwner.ExitCode == 0, forOwner.StdErr);
            Assert.Contains("scopes: admin", forOwner.StdOut, StringComparison.Ordinal);
            Assert.Equal(1, forMember.ExitCode);
            Assert.Contains("owner or admin", forMember.StdErr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // Issue 9, item 10
    [Theory]
    [InlineData("""{"name":"c","limit":2}""", "limit")]
    [InlineData("""{"name":"c","limit":null}""", "limit")]
    [InlineData("""{"name":"c","limit_reset":"daily"}""", "limit_reset")]
    [InlineData("""{"name":"c","limit_reset":"weekly"}""", "limit_reset")]
    [InlineData("""{"name":"c","expires_at":"2099-01-01T00:00:00Z"}""", "expires_at")]
    [InlineData("""{"name":"c","expires_at":null}""", "expires_at")]
    [InlineData("""{"name":"c","rate_limit":{"requests_per_minute":61}}""", "rate_limit")]
    [InlineData("""{"name":"c","rate_limit":null}""", "rate_limit")]
    public async Task CreateKey_WiderThanTheCaller_Answers403ExceedsAuthority(string json, string param)
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, Bounded);
        using var client = factory.Client(secret);

        using var response = await client.PostAsync("/api/v1/api-keys", Json.Body(json), Cancel);

        await AssertRefusedAsync(response, "exceeds_authority", param);
        Assert.Single(await factory.Service<IApiKeyStore>().ListAsync(account.Id, CancellationToken.None));
    }

    // Issue 9, item 10: a key made without bounds by a bounded key takes the caller's bounds, not none.
    [Fact]
    public async Task CreateKey_WithoutBoundsFromABoundedKey_TakesTheCallersBounds()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, Bounded);
        using var client = factory.Client(secret);

        var (childId, _) = await CreateThroughApiAsync(client, """{"name":"child"}""");
        var child = await KeyDataAsync(client, childId);

        Assert.Equal(1m, child.GetProperty("limit").GetDecimal());
        Assert.Equal("monthly", child.GetProperty("limit_reset").GetString());
        Assert.Equal("2098-01-01T00:00:00Z", child.GetProperty("expires_at").GetString());
        Assert.Equal(60, child.GetProperty("rate_limit").GetProperty("requests_per_minute").GetInt32());
        Assert.Equal(["demo/*"], child.GetProperty("models").EnumerateArray().Select(m => m.GetString()));
    }

    // Issue 9, item 10
    [Theory]
    [InlineData("""{"limit":5}""", "limit")]
    [InlineData("""{"limit":null}""", "limit")]
    [InlineData("""{"limit_reset":"daily"}""", "limit_reset")]
    [InlineData("""{"expires_at":"2099-01-01T00:00:00Z"}""", "expires_at")]
    [InlineData("""{"expires_at":null}""", "expires_at")]
    [InlineData("""{"rate_limit":null}""", "rate_limit")]
    public async Task PatchKey_WideningAKeyPastTheCaller_Answers403AndChangesNothing(string json, string param)
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, Bounded);
        using var client = factory.Client(secret);
        var (childId, _) = await CreateThroughApiAsync(client, """{"name":"child","limit":0.5}""");
        var before = (await KeyDataAsync(client, childId)).ToString();

        using var response = await client.PatchAsync($"/api/v1/api-keys/{childId}", Json.Body(json), Cancel);

        await AssertRefusedAsync(response, "exceeds_authority", param);
        Assert.Equal(before, (await KeyDataAsync(client, childId)).ToString());
    }

    // Issue 9, item 10
    [Fact]
    public async Task PatchSelf_WideningIsRefusedButNarrowingAlwaysWorks()
    {
        var account = await factory.CreateAccountAsync();
        var (self, secret) = await factory.CreateKeyAsync(account.Id, Bounded);
        using var client = factory.Client(secret);

        using var raise = await client.PatchAsync($"/api/v1/api-keys/{self.Id}", Json.Body("""{"limit":100}"""), Cancel);
        using var unexpire = await client.PatchAsync($"/api/v1/api-keys/{self.Id}", Json.Body("""{"expires_at":null}"""), Cancel);
        using var narrow = await client.PatchAsync($"/api/v1/api-keys/{self.Id}",
            Json.Body("""{"limit":0.25,"limit_reset":null,"expires_at":"2097-01-01T00:00:00Z","scopes":["inference","keys:write"],"models":["demo/echo"],"rate_limit":{"requests_per_minute":5}}"""), Cancel);
        using var disable = await client.PatchAsync($"/api/v1/api-keys/{self.Id}", Json.Body("""{"disabled":true}"""), Cancel);
        using var afterwards = await client.PostAsync("/api/v1/api-keys", Json.Body("""{"name":"x"}"""), Cancel);

        await AssertRefusedAsync(raise, "exceeds_authority", "limit");
        await AssertRefusedAsync(unexpire, "exceeds_authority", "expires_at");
        Assert.Equal(HttpStatusCode.OK, narrow.StatusCode);
        Assert.Equal(0.25m, (await narrow.ReadAsync()).GetProperty("data").GetProperty("limit").GetDecimal());
        Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, afterwards.StatusCode);
    }

    // Issue 9, item 10
    [Fact]
    public async Task ManageAWiderKey_PatchDisableNarrowDeleteRotate_Answers403AndTheKeyKeepsWorking()
    {
        var account = await factory.CreateAccountAsync();
        var (bounded, secret) = await factory.CreateKeyAsync(account.Id, Bounded);
        var (wide, wideSecret) = await factory.CreateKeyAsync(account.Id, """{"name":"wide"}""");
        using var client = factory.Client(secret);
        var path = $"/api/v1/api-keys/{wide.Id}";

        using var rename = await client.PatchAsync(path, Json.Body("""{"name":"mine now"}"""), Cancel);
        using var disable = await client.PatchAsync(path, Json.Body("""{"disabled":true}"""), Cancel);
        using var lower = await client.PatchAsync(path, Json.Body("""{"limit":0.01}"""), Cancel);
        using var rotate = await client.PostAsync($"{path}/rotate", null, Cancel);
        using var delete = await client.DeleteAsync(path, Cancel);

        foreach (var response in new[] { rename, disable, lower, rotate, delete })
        {
            await AssertRefusedAsync(response, "exceeds_authority");
        }

        using var wideClient = factory.Client(wideSecret);
        var data = await KeyDataAsync(wideClient, wide.Id);
        Assert.Equal("wide", data.GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, data.GetProperty("limit").ValueKind);
        Assert.False(data.GetProperty("disabled").GetBoolean());

        // The unrestricted key manages every key of the account, the bounded one included.
        using var unrestricted = await wideClient.PatchAsync($"/api/v1/api-keys/{bounded.Id}", Json.Body("""{"limit":0.5}"""), Cancel);
        Assert.Equal(HttpStatusCode.OK, unrestricted.StatusCode);
    }

    // Issue 9, item 10: disabled: false counts as widening.
    [Fact]
    public async Task ReEnable_AWiderDisabledKey_Answers403AndTheKeyStaysOff()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, Bounded);
        var (wide, wideSecret) = await factory.CreateKeyAsync(account.Id, """{"name":"wide","disabled":true}""");
        using var client = factory.Client(secret);

        using var response = await client.PatchAsync($"/api/v1/api-keys/{wide.Id}", Json.Body("""{"disabled":false}"""), Cancel);

        await AssertRefusedAsync(response, "exceeds_authority");
        using var wideClient = factory.Client(wideSecret);
        using var refused = await wideClient.GetAsync("/api/v1/api-keys", Cancel);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    // Issue 9, item 10: a chain of keys, each creating the next, trying to widen any property.
    [Fact]
    public async Task KeyChain_EachCreatingTheNext_NeverWidensAnyPropertyNorTouchesAnAncestor()
    {
        var account = await factory.CreateAccountAsync();
        var (root, rootSecret) = await factory.CreateKeyAsync(account.Id,
            """{"name":"link 0","scopes":["inference","keys:read","keys:write","usage:read"],"models":["demo/*"],"limit":1,"limit_reset":"weekly","expires_at":"2098-01-01T00:00:00Z","rate_limit":{"requests_per_minute":100}}""");
        var chain = new List<(string Id, string Secret)> { (root.Id, rootSecret) };
        string[] widenings =
        [
            """{"limit":1.01}""", """{"limit":null}""", """{"limit_reset":"daily"}""", """{"limit_reset":"monthly"}""",
            """{"expires_at":"2099-01-01T00:00:00Z"}""", """{"expires_at":null}""",
            """{"rate_limit":{"requests_per_minute":1000}}""", """{"rate_limit":null}""",
            """{"scopes":["inference","keys:read","keys:write","usage:read","admin"]}""",
            """{"models":null}""", """{"models":["*"]}""", """{"models":["openai/*"]}""", """{"models":["demo/*","openai/gpt-4o"]}""",
        ];

        for (var depth = 1; depth <= 5; depth++)
        {
            using var link = factory.Client(chain[^1].Secret);

            // Each widening, both as a new key and as a change of the key the link just made.
            var rateLimit = $$"""{"requests_per_minute":{{100 - depth * 10}}}""";
            var (childId, childSecret) = await CreateThroughApiAsync(link,
                $$"""{"name":"link {{depth}}","limit":{{1m - depth * 0.1m}},"expires_at":"{{2098 - depth}}-01-01T00:00:00Z","rate_limit":{{rateLimit}}}""");
            foreach (var widening in widenings)
            {
                using var create = await link.PostAsync("/api/v1/api-keys", Json.Body(widening.Insert(1, "\"name\":\"wider\",")), Cancel);
                Assert.Equal(HttpStatusCode.Forbidden, create.StatusCode);
            }

            using var child = factory.Client(childSecret);
            foreach (var widening in widenings)
            {
                using var self = await child.PatchAsync($"/api/v1/api-keys/{childId}", Json.Body(widening), Cancel);
                Assert.True(self.StatusCode == HttpStatusCode.Forbidden, $"link {depth} widened itself with {widening}");
            }

            chain.Add((childId, childSecret));
        }

        // The last link can touch none of its ancestors, each wider than itself.
        using var last = factory.Client(chain[^1].Secret);
        foreach (var (ancestorId, _) in chain.SkipLast(1))
        {
            using var patch = await last.PatchAsync($"/api/v1/api-keys/{ancestorId}", Json.Body("""{"limit":0.01}"""), Cancel);
            using var rotate = await last.PostAsync($"/api/v1/api-keys/{ancestorId}/rotate", null, Cancel);
            using var delete = await last.DeleteAsync($"/api/v1/api-keys/{ancestorId}", Cancel);
            await AssertRefusedAsync(patch, "exceeds_authority");
            await AssertRefusedAsync(rotate, "exceeds_authority");
            await AssertRefusedAsync(delete, "exceeds_authority");
        }

        foreach (var (_, secret) in chain)
        {
            using var client = factory.Client(secret);
            using var works = await client.GetAsync("/api/v1/api-keys", Cancel);
            Assert.Equal(HttpStatusCode.OK, works.StatusCode);
        }

        // And no key of the chain is wider than link 0.
        var keys = await factory.Service<IApiKeyStore>().ListAsync(account.Id, CancellationToken.None);
        Assert.All(keys, k =>
        {
            Assert.True(k.LimitNanos <= 1_000_000_000L);
            Assert.Equal("weekly", k.LimitReset);
            Assert.True(k.ExpiresAt <= root.ExpiresAt);
            Assert.True(k.RateLimitRequestsPerMinute <= 100);
            Assert.Equal(["demo/*"], k.Models);
            Assert.Equal(ApiKeyScopes.None, k.Scopes & ~root.Scopes);
        });
    }

    // Issue 9, item 10 (50 at once)
    [Fact]
    public async Task PatchKey_FiftyConcurrentRaisesOfAChildsLimit_AllAnswer403()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, Bounded);
        using var client = factory.Client(secret);
        var (childId, _) = await CreateThroughApiAsync(client, """{"name":"child","limit":0.5}""");

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            client.PatchAsync($"/api/v1/api-keys/{childId}", Json.Body($$"""{"limit":{{1000 + i}}}"""), Cancel)));

        foreach (var response in responses)
        {
            await AssertRefusedAsync(response, "exceeds_authority", "limit");
            response.Dispose();
        }

        Assert.Equal(0.5m, (await KeyDataAsync(client, childId)).GetProperty("limit").GetDecimal());
        await LedgerAudit.AssertBooksBalanceAsync(factory, account.Id);
    }
}
