using System.Globalization;
using System.Net;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// Ledger entries the running server did not write — <c>credits grant</c> from the command line, run as its own
/// process on the live database — must be seen before the server admits anything more.
/// </summary>
public sealed class OutOfBandDebitAttacks(BillingFixture billing) : IClassFixture<BillingFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Chat(int maxTokens = 100) => Json.Body(
        $$"""{"model":"fake/cent","max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"hi"}]}""");

    // Issue 9, item 4
    [Fact]
    public async Task CliDebit_WhileTheServerHoldsTheBalanceInMemory_IsSeenBeforeTheNextAdmission()
    {
        var (accountId, email, client) = await FundedAccountAsync();

        // The command line takes away all but $0.0005: less than one request reserves ($0.01) or costs ($0.0008).
        await CliAsync("credits", "grant", "--email", email, "--amount=-0.9987", "--note", "chargeback");

        using var refused = await client.PostAsync("/api/v1/chat/completions", Chat(), Ct);
        var error = await refused.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        Assert.Equal("account_credits", error.GetProperty("metadata").GetProperty("limit_source").GetString());
        Assert.Equal(0.0005m, error.GetProperty("current_balance").GetDecimal());
        Assert.Equal(Money.ToNanos(0.0005m), await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId));

        // A grant from the command line is seen the same way, and the account can spend again.
        await CliAsync("credits", "grant", "--email", email, "--amount", "0.01");
        using var admitted = await client.PostAsync("/api/v1/chat/completions", Chat(), Ct);
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId);
    }

    // Issue 9, item 4 (concurrency of 50)
    [Fact]
    public async Task CliDebit_ThenFiftyConcurrentRequests_AllAreRefusedAndTheBalanceNeverGoesNegative()
    {
        var (accountId, email, client) = await FundedAccountAsync();

        await CliAsync("credits", "grant", "--email", email, "--amount=-0.9987");
        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.PostAsync("/api/v1/chat/completions", Chat(), Ct)));

        var statuses = responses.GroupBy(r => r.StatusCode).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(statuses.Keys.SequenceEqual([HttpStatusCode.PaymentRequired]),
            "after the debit: " + string.Join(", ", statuses.Select(s => $"{s.Value} x {(int)s.Key}")));
        foreach (var response in responses)
        {
            response.Dispose();
        }

        Assert.Equal(Money.ToNanos(0.0005m), await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId));
    }

    /// <summary>An account granted $1 from the command line that has spent a little through the server (whose balance is then in its memory).</summary>
    private async Task<(string AccountId, string Email, HttpClient Client)> FundedAccountAsync()
    {
        var account = await billing.Tollgate.CreateAccountAsync();
        await CliAsync("credits", "grant", "--email", account.Email, "--amount", "1");
        var (_, secret) = await billing.Tollgate.CreateKeyAsync(account.Id);
        var client = billing.Tollgate.Client(secret);
        using var spent = await client.PostAsync("/api/v1/chat/completions", Chat(), Ct);
        Assert.Equal(HttpStatusCode.OK, spent.StatusCode);
        Assert.Equal(1, LedgerAudit.Charges(billing.Tollgate, account.Id).Records); // $0.0008: 8 tokens
        return (account.Id, account.Email, client);
    }

    /// <summary>Runs the real executable's command line on the live server's database (its default path, under the server's folder).</summary>
    private async Task CliAsync(params string[] args)
    {
        var (exitCode, stdout, stderr) = await TollgateProcess.RunAsync(billing.Tollgate.Directory, args);
        Assert.True(exitCode == 0, $"{string.Join(' ', args)} exited {exitCode.ToString(CultureInfo.InvariantCulture)}: {stderr}{stdout}");
    }
}
