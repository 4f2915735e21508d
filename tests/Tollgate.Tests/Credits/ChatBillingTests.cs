using System.Net;
using System.Text.Json;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Credits;

/// <summary>Reserve, settle, release and record on the real chat path, against the fake upstream and real SQLite.</summary>
public sealed class ChatBillingTests(BillingFixture billing) : IClassFixture<BillingFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Chat(string model = "fake/cent", bool stream = false, int maxTokens = 100) => Json.Body(
        $$"""{"model":"{{model}}","max_tokens":{{maxTokens}},"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""");

    private long Balance(string accountId) => billing.Scalar("SELECT balance_nanos FROM balances WHERE account_id = @a", ("@a", accountId));

    private long LedgerSum(string accountId) => billing.Scalar("SELECT COALESCE(SUM(amount_nanos), 0) FROM ledger WHERE account_id = @a", ("@a", accountId));

    private long Charges(string accountId) => -billing.Scalar("SELECT COALESCE(SUM(amount_nanos), 0) FROM ledger WHERE account_id = @a AND kind = 'charge'", ("@a", accountId));

    private long RecordedCost(string accountId) => billing.Scalar("SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_records WHERE account_id = @a", ("@a", accountId));

    [Fact]
    public async Task FiftyConcurrentCalls_OnFiveCents_AdmitAtMostFive_AndTheLedgerBalances()
    {
        billing.Fake.Options.Scenarios["cent"] = new Tollgate.FakeUpstream.Scenario { FirstByteDelay = TimeSpan.FromMilliseconds(300) };
        var (accountId, secret, _) = await billing.AccountAsync(0.05m);
        using var client = billing.Tollgate.Client(secret);

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.PostAsync("/api/v1/chat/completions", Chat(), Ct)));

        var admitted = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.PaymentRequired).ToArray();
        Assert.InRange(admitted, 1, 5);
        Assert.Equal(50 - admitted, refused.Length);
        var error = await refused[0].AssertErrorAsync(HttpStatusCode.PaymentRequired);
        Assert.Equal("account_credits", error.GetProperty("metadata").GetProperty("limit_source").GetString());
        Assert.Equal(0.01m, error.GetProperty("metadata").GetProperty("required").GetDecimal());
        Assert.True(error.GetProperty("current_balance").GetDecimal() < 0.01m);
        Assert.True(Balance(accountId) >= 0);
        Assert.Equal(LedgerSum(accountId), Balance(accountId));
        Assert.Equal(Charges(accountId), RecordedCost(accountId));
        Assert.Equal(admitted * 8 * 100_000L, Charges(accountId)); // 8 tokens at $0.0001 each
        Assert.Equal(0, billing.Tollgate.Service<CreditLedger>().ReservedFor(accountId));
        foreach (var response in responses)
        {
            response.Dispose();
        }

        billing.Fake.Options.Scenarios.TryRemove("cent", out _);
    }

    [Fact]
    public async Task InsufficientCredits_Gets402WithTheAffordableTokens()
    {
        var (_, secret, _) = await billing.AccountAsync(0.005m);
        using var client = billing.Tollgate.Client(secret);

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat(maxTokens: 100), Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);

        var error = await response.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        Assert.Equal("This request requires more credits, or fewer max_tokens. You requested up to 100 tokens, but can only afford 50.",
            error.GetProperty("message").GetString());
        Assert.StartsWith("""{"error":{"code":402,"message":""", body, StringComparison.Ordinal);
        Assert.Equal(0.005m, error.GetProperty("current_balance").GetDecimal());
        Assert.Equal(0.005m, error.GetProperty("metadata").GetProperty("current_balance").GetDecimal());
    }

    [Fact]
    public async Task EmptyAccount_Gets402InsufficientCredits_AndCliGrantedCreditsAreSeenAtOnce()
    {
        var (accountId, secret, _) = await billing.AccountAsync(0m);
        using var client = billing.Tollgate.Client(secret);

        using var refused = await client.PostAsync("/api/v1/chat/completions", Chat(), Ct);
        // Credits granted by another process (the CLI writes to the database directly).
        await billing.Tollgate.Service<IBillingStore>().AddCreditsAsync(accountId, "grant", Money.ToNanos(1m), "cli", null, null, DateTimeOffset.UtcNow, Ct);
        using var admitted = await client.PostAsync("/api/v1/chat/completions", Chat(), Ct);

        var error = await refused.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        Assert.Equal("Insufficient credits: balance $0.00", error.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
    }

    [Fact]
    public async Task KeyLimit_StopsTheKeyWith402KeyLimit_WhileTheAccountStillHasMoney()
    {
        var (accountId, secret, key) = await billing.AccountAsync(10m, """{"name":"limited","limit":0.015}""");
        using var client = billing.Tollgate.Client(secret);
        var calls = 0;
        HttpResponseMessage? response = null;

        while (calls < 50)
        {
            response?.Dispose();
            response = await client.PostAsync("/api/v1/chat/completions", Chat(), Ct);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                break;
            }

            calls++;
        }

        // Each call spends $0.0008 and reserves $0.01: the 8th would leave less than $0.01 of $0.015.
        Assert.Equal(7, calls);
        var error = await response!.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        Assert.Equal("key_limit", error.GetProperty("metadata").GetProperty("limit_source").GetString());
        Assert.True(Balance(accountId) > Money.ToNanos(9m));
        using var other = billing.Tollgate.Client((await billing.Tollgate.CreateKeyAsync(accountId)).Secret);
        using var unlimited = await other.PostAsync("/api/v1/chat/completions", Chat(), Ct);
        Assert.Equal(HttpStatusCode.OK, unlimited.StatusCode);
        Assert.Equal(7 * 800_000L, billing.Scalar("SELECT SUM(cost_nanos) FROM usage_records WHERE key_id = @k", ("@k", key.Id)));
        response!.Dispose();
    }

    [Fact]
    public async Task UpstreamFailure_ChargesNothing_ReleasesTheReservation_AndRecordsTheCall()
    {
        var (accountId, secret, _) = await billing.AccountAsync(1m);
        using var client = billing.Tollgate.Client(secret);

        using var response = await client.PostAsync("/api/v1/chat/completions", Chat("fake/cent-fail"), Ct);
        var generationId = response.Headers.GetValues("X-Generation-Id").Single();

        await response.AssertErrorAsync(HttpStatusCode.BadGateway);
        Assert.Equal(Money.ToNanos(1m), Balance(accountId));
        Assert.Equal(0, billing.Tollgate.Service<CreditLedger>().ReservedFor(accountId));
        Assert.Equal(502, billing.Scalar("SELECT status FROM usage_records WHERE generation_id = @g", ("@g", generationId)));
        Assert.Equal(0, billing.Scalar("SELECT cost_nanos FROM usage_records WHERE generation_id = @g", ("@g", generationId)));
    }

    [Fact]
    public async Task StreamCutByTheClient_IsChargedForWhatWasGenerated_NotZeroNotTheReservation()
    {
        var (accountId, secret, _) = await billing.AccountAsync(1m);
        using var client = billing.Tollgate.Client(secret);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions") { Content = Chat("fake/cent-slow", stream: true, maxTokens: 1000) };
        string generationId;

        using (var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct))
        {
            generationId = response.Headers.GetValues("X-Generation-Id").Single();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
            var words = 0;
            while (words < 10 && await reader.ReadLineAsync(Ct) is { } line)
            {
                words += line.StartsWith("data: ", StringComparison.Ordinal) ? 1 : 0;
            }
        } // gone, about 10 of 400 words in

        long cost = 0;
        for (var i = 0; i < 100 && (cost = billing.Scalar("SELECT COALESCE(MAX(cost_nanos), -1) FROM usage_records WHERE generation_id = @g", ("@g", generationId))) < 0; i++)
        {
            await Task.Delay(50, Ct);
        }

        Assert.True(cost > 0, "a cut stream must be charged for what it generated");
        Assert.True(cost < Money.ToNanos(0.1m), $"charged {cost} nanos: the reservation, not the usage");
        Assert.Equal(1, billing.Scalar("SELECT cancelled FROM usage_records WHERE generation_id = @g", ("@g", generationId)));
        Assert.Equal(Charges(accountId), RecordedCost(accountId));
        Assert.Equal(LedgerSum(accountId), Balance(accountId));
    }

    [Fact]
    public async Task EveryCall_LeavesAUsageRecordWithTheCallersHeaders()
    {
        var (_, secret, key) = await billing.AccountAsync(1m);
        using var client = billing.Tollgate.Client(secret);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions") { Content = Chat(stream: true) };
        request.Headers.Add("HTTP-Referer", "https://app.example.com");
        request.Headers.Add("X-Title", "Example App");
        request.Headers.Add("X-Task-ID", "task-42");

        using var response = await client.SendAsync(request, Ct);
        var answer = await SseAnswer.ReadAsync(response, Ct);
        var generationId = response.Headers.GetValues("X-Generation-Id").Single();

        var usage = answer.Chunks[^1].GetProperty("usage");
        Assert.Equal(Money.ToUsd(billing.Scalar("SELECT cost_nanos FROM usage_records WHERE generation_id = @g", ("@g", generationId))),
            usage.GetProperty("cost").GetDecimal());
        Assert.Equal(1, billing.Scalar("SELECT COUNT(*) FROM usage_records WHERE generation_id = @g AND key_id = @k AND streamed = TRUE " +
            "AND http_referer = 'https://app.example.com' AND app_title = 'Example App' AND task_id = 'task-42' AND finish_reason = 'stop' " +
            "AND status = 200 AND first_token_ms IS NOT NULL AND model = 'fake/cent'", ("@g", generationId), ("@k", key.Id)));
        Assert.Equal(1, billing.Scalar("SELECT COUNT(*) FROM ledger WHERE reference = @g AND kind = 'charge'", ("@g", generationId)));
    }

    [Fact]
    public async Task APromptWhoseByteBoundDoesNotFit_IsCountedExactly_AndAdmittedWhenThatFits()
    {
        // 4,000 bytes of prompt, a few hundred o200k tokens: reserving the byte bound (~$0.048) is more than the
        // account holds, reserving the exact count (~$0.009 with its margin) is not.
        var prompt = string.Concat(Enumerable.Repeat("abcdefgh", 500));
        var (accountId, secret, _) = await billing.AccountAsync(0.02m);
        using var client = billing.Tollgate.Client(secret);

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
            $$"""{"model":"fake/prompt-priced","max_tokens":10,"messages":[{"role":"user","content":"{{prompt}}"}]}"""), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(LedgerSum(accountId), Balance(accountId));
        Assert.Equal(0, billing.Tollgate.Service<CreditLedger>().ReservedFor(accountId));
    }
}
