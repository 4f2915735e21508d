using System.Net;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Tests.Infrastructure;
using Tollgate.Tests.Usage;

namespace Tollgate.Tests.Credits;

/// <summary><c>GET /api/v1/credits</c> and <c>POST /api/v1/admin/credits</c>. Every new account starts with the 1.00 USD signup grant.</summary>
public sealed class CreditsApiTests(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    /// <summary>Every scope, admin included: what an owner or admin is given to grant credits.</summary>
    private const string AdminKey = """{"name":"key","scopes":["inference","keys:read","keys:write","usage:read","admin"]}""";

    /// <summary>An account and a key: the default scopes for a member, every scope for an owner or admin, unless <paramref name="json"/> says otherwise.</summary>
    private async Task<(Account Account, HttpClient Client)> AccountWithKeyAsync(AccountRole role = AccountRole.Member, string? json = null)
    {
        var account = role == AccountRole.Member
            ? await factory.CreateAccountAsync()
            : (await factory.Service<AccountService>().CreateAsync($"{role}-{Guid.NewGuid():N}@example.com", null, role, null, CancellationToken.None)).Account;
        var (_, secret) = await factory.CreateKeyAsync(account.Id, json ?? (role == AccountRole.Member ? """{"name":"key"}""" : AdminKey));
        return (account, factory.Client(secret));
    }

    /// <summary>A member's key holding admin, as a key made before its account lost the owner or admin role would.</summary>
    private async Task<(Account Account, HttpClient Client)> MemberWithAdminKeyAsync()
    {
        var account = await factory.CreateAccountAsync();
        var secret = ApiKeySecret.Generate();
        await factory.Service<IApiKeyStore>().InsertAsync(new ApiKey
        {
            Id = "key_demoted" + Guid.NewGuid().ToString("N")[..8],
            AccountId = account.Id,
            Name = "demoted",
            Label = ApiKeySecret.Label(secret),
            Scopes = ApiKeyScopes.All,
            CreatedAt = DateTimeOffset.UtcNow,
        }, ApiKeySecret.Hash(secret), CancellationToken.None);
        return (account, factory.Client(secret));
    }

    private static async Task<(decimal Credits, decimal Usage)> CreditsAsync(HttpClient client)
    {
        using var response = await client.GetAsync("/api/v1/credits", TestContext.Current.CancellationToken);
        var body = await response.ReadAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var data = body.GetProperty("data");
        return (data.GetProperty("total_credits").GetDecimal(), data.GetProperty("total_usage").GetDecimal());
    }

    private static Task<HttpResponseMessage> GrantAsync(HttpClient client, string json, string? requestId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/credits") { Content = Json.Body(json) };
        if (requestId is not null)
        {
            request.Headers.Add("X-Request-Id", requestId);
        }

        return client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Credits_NewAccount_ShowsTheSignupGrantAndNoUsage()
    {
        var (_, client) = await AccountWithKeyAsync();

        using var response = await client.GetAsync("/api/v1/credits", TestContext.Current.CancellationToken);
        var body = await response.ReadAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["data"], body.PropertyNames());
        Assert.Equal(["total_credits", "total_usage"], body.GetProperty("data").PropertyNames());
        Assert.Equal(1.00m, body.GetProperty("data").GetProperty("total_credits").GetDecimal());
        Assert.Equal(0m, body.GetProperty("data").GetProperty("total_usage").GetDecimal());
    }

    [Fact]
    public async Task Credits_AfterCharges_TotalUsageIsTheirSumOverAllKeys()
    {
        var account = await factory.CreateAccountAsync();
        var (first, secret) = await factory.CreateKeyAsync(account.Id);
        var (second, _) = await factory.CreateKeyAsync(account.Id, """{"name":"second"}""");
        await factory.WriteUsageAsync(
            UsageTestData.Record(first, DateTimeOffset.UtcNow.AddDays(-40), 0.25m),
            UsageTestData.Record(second, DateTimeOffset.UtcNow, 0.125m),
            UsageTestData.Record(second, DateTimeOffset.UtcNow, 0m));
        using var client = factory.Client(secret);

        Assert.Equal((1.00m, 0.375m), await CreditsAsync(client));
    }

    [Fact]
    public async Task Credits_KeyWithoutUsageReadScope_Answers403MissingScope()
    {
        var (_, client) = await AccountWithKeyAsync(json: """{"name":"no usage","scopes":["inference","keys:read","keys:write"]}""");

        using var response = await client.GetAsync("/api/v1/credits", TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("missing_scope", error.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal("usage:read", error.GetProperty("metadata").GetProperty("required_scope").GetString());
    }

    [Fact]
    public async Task Grant_ByOwnerByEmail_CreditsTheAccountAndShowsInItsCreditsAndLedger()
    {
        var (owner, ownerClient) = await AccountWithKeyAsync(AccountRole.Owner);
        var (member, memberClient) = await AccountWithKeyAsync();
        var requestId = "req-grant-" + Guid.NewGuid().ToString("N");

        using var response = await GrantAsync(ownerClient, $$"""{"email":"{{member.Email}}","amount":5.0,"note":"welcome bonus"}""", requestId);
        var body = await response.ReadAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["data"], body.PropertyNames());
        var data = body.GetProperty("data");
        Assert.Equal(["account_id", "balance", "total_credits", "total_usage"], data.PropertyNames());
        Assert.Equal(member.Id, data.GetProperty("account_id").GetString());
        Assert.Equal(6.00m, data.GetProperty("balance").GetDecimal());
        Assert.Equal(6.00m, data.GetProperty("total_credits").GetDecimal());
        Assert.Equal(0m, data.GetProperty("total_usage").GetDecimal());
        Assert.Equal((6.00m, 0m), await CreditsAsync(memberClient));
        Assert.Equal((1.00m, 0m), await CreditsAsync(ownerClient)); // the granter's own credits are untouched

        // The ledger entry names who granted it and the request that did.
        var row = factory.Row("SELECT kind, amount_nanos, actor, note FROM ledger WHERE account_id = @account AND reference = @reference",
            ("@account", member.Id), ("@reference", requestId));
        Assert.NotNull(row);
        Assert.Equal("grant", row[0]);
        Assert.Equal(5_000_000_000L, Convert.ToInt64(row[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(owner.Id, row[2]);
        Assert.Equal("welcome bonus", row[3]);
    }

    [Fact]
    public async Task Grant_ByAdminByAccountId_NegativeAmountIsAnAdjustment()
    {
        var (_, adminClient) = await AccountWithKeyAsync(AccountRole.Admin);
        var (member, memberClient) = await AccountWithKeyAsync();

        using var response = await GrantAsync(adminClient, $$"""{"account_id":"{{member.Id}}","amount":-0.25}""");
        var data = (await response.ReadAsync()).GetProperty("data");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0.75m, data.GetProperty("balance").GetDecimal());
        Assert.Equal(0.75m, data.GetProperty("total_credits").GetDecimal());
        Assert.Equal((0.75m, 0m), await CreditsAsync(memberClient));
    }

    [Fact]
    public async Task Grant_ByOwnerToThemselves_Works()
    {
        var (owner, ownerClient) = await AccountWithKeyAsync(AccountRole.Owner);

        using var response = await GrantAsync(ownerClient, $$"""{"account_id":"{{owner.Id}}","amount":1000000}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((1_000_001m, 0m), await CreditsAsync(ownerClient));
    }

    [Fact]
    public async Task Grant_AmountToTheNanoDollar_IsGrantedExactly()
    {
        var (_, ownerClient) = await AccountWithKeyAsync(AccountRole.Owner);
        var (member, memberClient) = await AccountWithKeyAsync();

        using var response = await GrantAsync(ownerClient, $$"""{"account_id":"{{member.Id}}","amount":0.123456789}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((1.123456789m, 0m), await CreditsAsync(memberClient));
    }

    [Fact]
    public async Task Grant_ByMember_Answers403MissingScopeAndGrantsNothing()
    {
        var (member, memberClient) = await AccountWithKeyAsync();

        using var response = await GrantAsync(memberClient, $$"""{"account_id":"{{member.Id}}","amount":100}""");

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("missing_scope", error.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal("admin", error.GetProperty("metadata").GetProperty("required_scope").GetString());
        Assert.Equal((1.00m, 0m), await CreditsAsync(memberClient));
    }

    [Fact]
    public async Task Grant_AdminKeyOfAMemberAccount_Answers403NotAdminAndGrantsNothing()
    {
        var (member, memberClient) = await MemberWithAdminKeyAsync();

        using var response = await GrantAsync(memberClient, $$"""{"account_id":"{{member.Id}}","amount":100}""");

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("not_admin", error.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal((1.00m, 0m), await CreditsAsync(memberClient));
    }

    [Fact]
    public async Task Grant_ByMemberWithAnInvalidBody_StillAnswers403NotAdmin()
    {
        var (_, memberClient) = await MemberWithAdminKeyAsync();

        using var response = await GrantAsync(memberClient, """{"amount":"lots"}""");

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("not_admin", error.GetProperty("metadata").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Grant_OwnerKeyWithoutAdmin_Answers403MissingScope()
    {
        var (owner, client) = await AccountWithKeyAsync(AccountRole.Owner, """{"name":"every default scope"}""");

        using var response = await GrantAsync(client, $$"""{"account_id":"{{owner.Id}}","amount":5}""");

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("missing_scope", error.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal("admin", error.GetProperty("metadata").GetProperty("required_scope").GetString());
        Assert.Equal((1.00m, 0m), await CreditsAsync(client));
    }

    [Theory]
    [InlineData("""{"email":"nobody-at-all@example.com","amount":5}""")]
    [InlineData("""{"account_id":"acc_doesnotexist","amount":5}""")]
    public async Task Grant_UnknownAccount_Answers404(string json)
    {
        var (_, ownerClient) = await AccountWithKeyAsync(AccountRole.Owner);

        using var response = await GrantAsync(ownerClient, json);

        var error = await response.AssertErrorAsync(HttpStatusCode.NotFound);
        Assert.Equal("Account not found", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"email":"EMAIL","amount":0}""", "amount")]
    [InlineData("""{"email":"EMAIL","amount":0.0000000001}""", "amount")]
    [InlineData("""{"email":"EMAIL"}""", "amount")]
    [InlineData("""{"email":"EMAIL","amount":null}""", "amount")]
    [InlineData("""{"email":"EMAIL","amount":"5"}""", "amount")]
    [InlineData("""{"email":"EMAIL","amount":1000000.01}""", "amount")]
    [InlineData("""{"email":"EMAIL","amount":-1000000.01}""", "amount")]
    [InlineData("""{"amount":5}""", "email")]
    [InlineData("""{"email":5,"amount":5}""", "email")]
    [InlineData("""{"email":"EMAIL","account_id":"acc_x","amount":5}""", "account_id")]
    [InlineData("""{"email":"EMAIL","amount":5,"note":7}""", "note")]
    public async Task Grant_InvalidBody_Answers400NamingTheField(string json, string param)
    {
        var (_, ownerClient) = await AccountWithKeyAsync(AccountRole.Owner);
        var (member, memberClient) = await AccountWithKeyAsync();

        using var response = await GrantAsync(ownerClient, json.Replace("EMAIL", member.Email, StringComparison.Ordinal));

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal(param, error.GetProperty("metadata").GetProperty("param").GetString());
        Assert.Contains(param, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal((1.00m, 0m), await CreditsAsync(memberClient));
    }

    [Fact]
    public async Task Grant_NoteLongerThan500Characters_Answers400NamingNote()
    {
        var (_, ownerClient) = await AccountWithKeyAsync(AccountRole.Owner);
        var (member, _) = await AccountWithKeyAsync();

        using var response = await GrantAsync(ownerClient, $$"""{"account_id":"{{member.Id}}","amount":1,"note":"{{new string('x', 501)}}"}""");

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal("note", error.GetProperty("metadata").GetProperty("param").GetString());
    }
}
