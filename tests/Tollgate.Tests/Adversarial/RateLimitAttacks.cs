using System.Globalization;
using System.Net;
using System.Text.Json;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// A key with a rate limit tries to make more requests than it allows: in a row, all at once, after changing or
/// rotating the key, with bodies Tollgate would have to parse. Each extra request is refused with 429 before it
/// reads the body, reserves credits or reaches an upstream.
/// </summary>
public sealed class RateLimitAttacks(BillingFixture billing) : IClassFixture<BillingFixture>
{
    private const string Chat = "/api/v1/chat/completions";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StringContent Echo(bool stream = false) =>
        Json.Body($$"""{"model":"demo/echo","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""");

    private static StringContent Cent() =>
        Json.Body("""{"model":"fake/cent","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}""");

    private static string RateLimited(int requestsPerMinute) =>
        $$$"""{"name":"limited","rate_limit":{"requests_per_minute":{{{requestsPerMinute}}}}}""";

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : "";

    private static long Number(HttpResponseMessage response, string name) =>
        long.Parse(Header(response, name), NumberStyles.None, CultureInfo.InvariantCulture);

    /// <summary>Asserts the three X-RateLimit-* headers; returns Reset (Unix epoch milliseconds).</summary>
    private static long AssertRateLimitHeaders(HttpResponseMessage response, int limit, int remaining)
    {
        Assert.Equal(limit, Number(response, "X-RateLimit-Limit"));
        Assert.Equal(remaining, Number(response, "X-RateLimit-Remaining"));
        var reset = Number(response, "X-RateLimit-Reset");
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.InRange(reset, now - 5_000, now + 60_000 + 1_000);
        return reset;
    }

    private static async Task AssertRateLimitedAsync(HttpResponseMessage response, int limit)
    {
        var error = await response.AssertErrorAsync(HttpStatusCode.TooManyRequests);
        var metadata = error.GetProperty("metadata");
        Assert.Equal("rate_limit_exceeded", metadata.GetProperty("error_type").GetString());
        Assert.StartsWith("req_", metadata.GetProperty("request_id").GetString(), StringComparison.Ordinal);
        Assert.Equal(limit, metadata.GetProperty("requests_per_minute").GetInt32());
        var retryAfter = Number(response, "Retry-After");
        Assert.InRange(retryAfter, 1, 60);
        Assert.Equal(retryAfter, metadata.GetProperty("retry_after_seconds").GetInt64());
        AssertRateLimitHeaders(response, limit, remaining: 0);
    }

    [Fact]
    public async Task RateLimit_FourChatsInARowAtOnePerMinute_SecondOnwardGet429WithHeaders()
    {
        // Issue 9, item 13 (the reproduction: all four got 200)
        var (accountId, secret, _) = await billing.AccountAsync(1m, RateLimited(1));
        using var client = billing.Tollgate.Client(secret);

        // Reading the key is not inference: it neither counts nor is limited.
        using var key = await client.GetAsync("/api/v1/key", Ct);
        Assert.Equal(1, (await key.ReadAsync()).GetProperty("data").GetProperty("rate_limit").GetProperty("requests_per_minute").GetInt32());
        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            responses.Add(await client.PostAsync(Chat, Echo(), Ct));
        }

        Assert.Equal(HttpStatusCode.OK, responses[0].StatusCode);
        var reset = AssertRateLimitHeaders(responses[0], limit: 1, remaining: 0);
        foreach (var refused in responses.Skip(1))
        {
            await AssertRateLimitedAsync(refused, limit: 1);
            Assert.Equal(reset, Number(refused, "X-RateLimit-Reset")); // the same window
        }

        Assert.Equal(1, LedgerAudit.Charges(billing.Tollgate, accountId).Records);
        await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId);
        responses.ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task RateLimit_FiftyConcurrentChatsAtFivePerMinute_AdmitExactlyFive()
    {
        // Issue 9, item 13 (concurrency of 50)
        var (accountId, secret, _) = await billing.AccountAsync(1m, RateLimited(5));
        using var client = billing.Tollgate.Client(secret);

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.PostAsync(Chat, Echo(), Ct)));

        var admitted = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToArray();
        Assert.Equal(5, admitted.Length);
        Assert.Equal([0L, 1, 2, 3, 4], admitted.Select(r => Number(r, "X-RateLimit-Remaining")).Order());
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
        {
            await AssertRateLimitedAsync(refused, limit: 5);
        }

        Assert.Equal(5, LedgerAudit.Charges(billing.Tollgate, accountId).Records);
        await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId);
        Array.ForEach(responses, r => r.Dispose());
    }

    [Fact]
    public async Task RateLimit_RefusedChatWhileAnotherIsInFlight_ReservesAndChargesNothing()
    {
        // Issue 9, item 13 (a refused request costs nothing and reserves nothing)
        billing.Fake.Options.Scenarios["cent"] = new Tollgate.FakeUpstream.Scenario { FirstByteDelay = TimeSpan.FromMilliseconds(700) };
        try
        {
            var (accountId, secret, _) = await billing.AccountAsync(1m, RateLimited(1));
            var ledger = billing.Tollgate.Service<CreditLedger>();
            using var client = billing.Tollgate.Client(secret);

            var first = client.PostAsync(Chat, Cent(), Ct);
            while (ledger.ReservedFor(accountId) == 0 && !first.IsCompleted)
            {
                await Task.Delay(5, Ct);
            }

            var reservedByFirst = ledger.ReservedFor(accountId);
            using var second = await client.PostAsync(Chat, Cent(), Ct);
            var reservedDuringSecond = ledger.ReservedFor(accountId);
            using var answered = await first;

            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
            await AssertRateLimitedAsync(second, limit: 1);
            Assert.Equal(Money.ToNanos(0.01m), reservedByFirst); // max_tokens 100 at $0.0001
            Assert.Equal(reservedByFirst, reservedDuringSecond);
            Assert.Equal(1, billing.Scalar("SELECT COUNT(*) FROM usage_records WHERE account_id = @a", ("@a", accountId)));
            Assert.Equal(Money.ToNanos(1m) - 8 * Money.ToNanos(BillingFixture.CompletionPrice), await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId));
        }
        finally
        {
            billing.Fake.Options.Scenarios.TryRemove("cent", out _);
        }
    }

    [Fact]
    public async Task RateLimit_RefusedChatWithABodyToParse_Is429BeforeTheBodyIsRead()
    {
        // Issue 9, item 13 (checked before any body parsing: malformed or huge bodies cost nothing once over the limit)
        var (accountId, secret, _) = await billing.AccountAsync(1m, RateLimited(1));
        using var client = billing.Tollgate.Client(secret);
        using var first = await client.PostAsync(Chat, Echo(), Ct);

        using var malformed = await client.PostAsync(Chat, Json.Body("""{"model":"demo/echo","messages":[{"""), Ct);
        using var huge = await client.PostAsync(Chat, Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":""" +
            JsonSerializer.Serialize(new string('x', 1024 * 1024)) + "}]}"), Ct);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await AssertRateLimitedAsync(malformed, limit: 1);
        await AssertRateLimitedAsync(huge, limit: 1);
        Assert.Equal(1, LedgerAudit.Charges(billing.Tollgate, accountId).Records);
        await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId);
    }

    [Fact]
    public async Task RateLimit_StreamedChat_CarriesTheRateLimitHeaders()
    {
        // Issue 9, item 13 (the X-RateLimit-* headers on successful answers, streams included)
        var (accountId, secret, _) = await billing.AccountAsync(1m, RateLimited(3));
        using var client = billing.Tollgate.Client(secret);
        using var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = Echo(stream: true) };

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        AssertRateLimitHeaders(response, limit: 3, remaining: 2);
        Assert.True((await SseAnswer.ReadAsync(response, Ct)).EndsWithDone);
        await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId);
    }

    [Fact]
    public async Task RateLimit_PatchedLimit_TakesEffectAtTheKeysNextRequest()
    {
        // Issue 9, item 13 (a changed limit is enforced at once, raised or removed)
        var (accountId, secret, key) = await billing.AccountAsync(1m, RateLimited(1));
        using var client = billing.Tollgate.Client(secret);

        // Raising a limit widens the key: only a key without bounds of its own may do it (issue 9, item 10).
        var (_, ownerSecret) = await billing.Tollgate.CreateKeyAsync(accountId);
        using var owner = billing.Tollgate.Client(ownerSecret);
        using (var first = await client.PostAsync(Chat, Echo(), Ct))
        using (var second = await client.PostAsync(Chat, Echo(), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            await AssertRateLimitedAsync(second, limit: 1);
        }

        using (var raisedBySelf = await client.PatchAsync($"/api/v1/api-keys/{key.Id}", Json.Body("""{"rate_limit":{"requests_per_minute":3}}"""), Ct))
        {
            await raisedBySelf.AssertErrorAsync(HttpStatusCode.Forbidden);
        }

        using (var patched = await owner.PatchAsync($"/api/v1/api-keys/{key.Id}", Json.Body("""{"rate_limit":{"requests_per_minute":3}}"""), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        using (var shown = await client.GetAsync("/api/v1/key", Ct))
        {
            Assert.Equal(3, (await shown.ReadAsync()).GetProperty("data").GetProperty("rate_limit").GetProperty("requests_per_minute").GetInt32());
        }

        for (var remaining = 2; remaining >= 0; remaining--)
        {
            using var admitted = await client.PostAsync(Chat, Echo(), Ct);
            Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
            AssertRateLimitHeaders(admitted, limit: 3, remaining);
        }

        using (var refused = await client.PostAsync(Chat, Echo(), Ct))
        {
            await AssertRateLimitedAsync(refused, limit: 3);
        }

        // No limit at all: admitted, and no X-RateLimit-* headers.
        using (var cleared = await owner.PatchAsync($"/api/v1/api-keys/{key.Id}", Json.Body("""{"rate_limit":null}"""), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, cleared.StatusCode);
        }

        using (var unlimited = await client.PostAsync(Chat, Echo(), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, unlimited.StatusCode);
            Assert.False(unlimited.Headers.Contains("X-RateLimit-Limit"));
        }

        Assert.Equal(5, LedgerAudit.Charges(billing.Tollgate, accountId).Records);
        await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId);
    }

    [Fact]
    public async Task RateLimit_RotatedSecret_CountsInTheSameWindowAsTheOldOne()
    {
        // Issue 9, item 13 (rotating the key does not buy a fresh window, nor does the old secret's grace period)
        var (accountId, oldSecret, key) = await billing.AccountAsync(1m, RateLimited(1));
        using var oldClient = billing.Tollgate.Client(oldSecret);
        using var first = await oldClient.PostAsync(Chat, Echo(), Ct);
        using var rotation = await oldClient.PostAsync($"/api/v1/api-keys/{key.Id}/rotate", Json.Body("""{"grace_seconds":60}"""), Ct);
        var newSecret = (await rotation.ReadAsync()).GetProperty("key").GetString();
        using var newClient = billing.Tollgate.Client(newSecret);

        using var withNew = await newClient.PostAsync(Chat, Echo(), Ct);
        using var withOld = await oldClient.PostAsync(Chat, Echo(), Ct);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rotation.StatusCode);
        await AssertRateLimitedAsync(withNew, limit: 1);
        await AssertRateLimitedAsync(withOld, limit: 1);
        await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId);
    }

    [Fact]
    public async Task DefaultRateLimit_KeysWithoutTheirOwn_AreEachHeldToIt()
    {
        // Issue 9, item 13 (the optional default, per key, for keys without a rate_limit of their own)
        using var tollgate = new TollgateFactory(new Dictionary<string, string?> { ["Tollgate:RateLimits:DefaultRequestsPerMinute"] = "2" });
        var account = await tollgate.CreateAccountAsync();
        await tollgate.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(1m), "test", null, null, Ct);
        var (plain, plainSecret) = await tollgate.CreateKeyAsync(account.Id, """{"name":"plain"}""");
        var (_, siblingSecret) = await tollgate.CreateKeyAsync(account.Id, """{"name":"sibling"}""");
        var (_, ownSecret) = await tollgate.CreateKeyAsync(account.Id, RateLimited(4));
        using var client = tollgate.Client(plainSecret);

        var plainStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.PostAsync(Chat, Echo(), Ct);
            plainStatuses.Add(response.StatusCode);
            if (i == 2)
            {
                await AssertRateLimitedAsync(response, limit: 2);
            }
        }

        using var sibling = tollgate.Client(siblingSecret);
        using var siblingResponse = await sibling.PostAsync(Chat, Echo(), Ct);
        using var own = tollgate.Client(ownSecret);
        var ownStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await own.PostAsync(Chat, Echo(), Ct);
            ownStatuses.Add(response.StatusCode);
        }

        using var shown = await client.GetAsync("/api/v1/key", Ct);
        using var stored = await client.GetAsync($"/api/v1/api-keys/{plain.Id}", Ct);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], plainStatuses);
        Assert.Equal(HttpStatusCode.OK, siblingResponse.StatusCode); // its own count, not the account's
        AssertRateLimitHeaders(siblingResponse, limit: 2, remaining: 1);
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.OK, 4), HttpStatusCode.TooManyRequests], ownStatuses); // its own limit wins
        // /key shows the limit the key is held to; the key's own setting stays null.
        Assert.Equal(2, (await shown.ReadAsync()).GetProperty("data").GetProperty("rate_limit").GetProperty("requests_per_minute").GetInt32());
        Assert.Equal(JsonValueKind.Null, (await stored.ReadAsync()).GetProperty("data").GetProperty("rate_limit").GetProperty("requests_per_minute").ValueKind);
        Assert.Equal(7, LedgerAudit.Charges(tollgate, account.Id).Records);
        await LedgerAudit.AssertBooksBalanceAsync(tollgate, account.Id);
    }

    [Fact]
    public async Task DefaultRateLimitSetting_OutOfRange_StartFailsNamingTheSetting()
    {
        // Issue 9, item 13 (the default is validated like every setting: one line naming it, exit code 2)
        var folder = Directory.CreateTempSubdirectory("tollgate-rate-").FullName;
        try
        {
            using var process = System.Diagnostics.Process.Start(TollgateProcess.StartInfo(folder, ["serve", "--urls", "http://127.0.0.1:0"],
                new Dictionary<string, string> { ["Tollgate__RateLimits__DefaultRequestsPerMinute"] = "-1" }))!;
            var output = process.StandardOutput.ReadToEndAsync(Ct);
            var error = process.StandardError.ReadToEndAsync(Ct);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);

            Assert.Equal(2, process.ExitCode);
            Assert.Contains("Tollgate:RateLimits:DefaultRequestsPerMinute must be between 0 (none) and 1000000", await output + await error,
                StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
