using System.ClientModel;
using System.Net;
using System.Text.Json;
using OpenAI.Embeddings;
using Tollgate.Credits;
using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;
using Tollgate.Usage;

namespace Tollgate.Tests.Gateway;

/// <summary>The fake upstream's embeddings behind a Tollgate with an OpenAI-compatible embedding model, an unpriced one, and a chat model.</summary>
public sealed class EmbeddingsFixture : IAsyncLifetime
{
    internal FakeUpstreamServer Fake { get; private set; } = null!;

    public TollgateFactory Tollgate { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Fake = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions());
        Tollgate = new TollgateFactory(new Dictionary<string, string?>
        {
            ["Tollgate:Providers:fakeai:Type"] = "openai",
            ["Tollgate:Providers:fakeai:BaseUrl"] = Fake.BaseAddress + "v1",
            ["Tollgate:Providers:fakeai:ApiKey"] = "sk-upstream-embeddings",
            ["Tollgate:Models:0:Id"] = "fake/embed",
            ["Tollgate:Models:0:Embeddings"] = "true",
            ["Tollgate:Models:0:Pricing:Embedding"] = "0.0000001",
            ["Tollgate:Models:0:Deployments:0:Provider"] = "fakeai",
            ["Tollgate:Models:0:Deployments:0:Model"] = "text-embedding-3-small",
            ["Tollgate:Models:1:Id"] = "fake/embed-free",
            ["Tollgate:Models:1:Embeddings"] = "true",
            ["Tollgate:Models:1:Deployments:0:Provider"] = "fakeai",
            ["Tollgate:Models:1:Deployments:0:Model"] = "free-embedder",
        });
        Tollgate.StartServer();
    }

    public async Task<(string AccountId, string Secret)> AccountAsync(decimal credits = 10m, string key = """{"name":"embeddings"}""")
    {
        var account = await Tollgate.CreateAccountAsync();
        var balance = (await Tollgate.Service<IBillingStore>().GetCreditsAsync(account.Id, CancellationToken.None)).BalanceNanos;
        if (Money.ToNanos(credits) != balance)
        {
            await Tollgate.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(credits) - balance, "test", null, null, CancellationToken.None);
        }

        return (account.Id, (await Tollgate.CreateKeyAsync(account.Id, key)).Secret);
    }

    public async ValueTask DisposeAsync()
    {
        await Tollgate.DisposeAsync();
        await Fake.DisposeAsync();
    }
}

/// <summary>
/// <c>POST /api/v1/embeddings</c> through the official OpenAI .NET SDK: vectors from the demo model and an OpenAI-compatible
/// upstream, base64 or float, <c>dimensions</c>, billed per input token at the embedding price, in the usage log and
/// <c>/generation</c>; and its refusals.
/// </summary>
public sealed class EmbeddingsApiTests(EmbeddingsFixture fixture) : IClassFixture<EmbeddingsFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DemoModel_DeterministicUnitVectors_Billed()
    {
        var (accountId, secret) = await fixture.AccountAsync();
        var client = fixture.Tollgate.OpenAiEmbeddings(secret, "demo/embed");

        var first = (await client.GenerateEmbeddingAsync("The quick brown fox", cancellationToken: Ct)).Value.ToFloats().ToArray();
        var again = (await client.GenerateEmbeddingAsync("The quick brown fox", cancellationToken: Ct)).Value.ToFloats().ToArray();
        var other = (await client.GenerateEmbeddingAsync("Something else entirely", cancellationToken: Ct)).Value.ToFloats().ToArray();
        var small = await client.GenerateEmbeddingsAsync(["one", "two", "three"], new EmbeddingGenerationOptions { Dimensions = 32 }, Ct);

        Assert.Equal(256, first.Length);
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.Equal(1.0, Math.Sqrt(first.Sum(x => (double)x * x)), 3);
        Assert.Equal([0, 1, 2], small.Value.Select(e => e.Index));
        Assert.All(small.Value, e => Assert.Equal(32, e.ToFloats().Length));
        Assert.True(small.Value.Usage.InputTokenCount >= 3);

        var spent = (await fixture.Tollgate.Service<IBillingStore>().GetCreditsAsync(accountId, Ct)).UsageNanos;
        Assert.True(spent > 0);
    }

    [Fact]
    public async Task OpenAiCompatibleUpstream_ChargedWhatItCounted_AtTheEmbeddingPrice_AndLogged()
    {
        var (accountId, secret) = await fixture.AccountAsync();
        using var http = fixture.Tollgate.Client(secret);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/embeddings")
        {
            Content = Json.Body("""{"model":"fake/embed","input":["aaaaaaaaaaaaaaaaaaaa","bbbbbbbb"],"encoding_format":"float","dimensions":4}"""),
        };
        request.Headers.Add("X-Title", "RAG indexer");
        using var response = await http.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var root = body.RootElement;

        Assert.Equal("fake/embed", root.GetProperty("model").GetString());
        Assert.Equal(2, root.GetProperty("data").GetArrayLength());
        Assert.Equal(4, root.GetProperty("data")[0].GetProperty("embedding").GetArrayLength());
        var usage = root.GetProperty("usage");
        Assert.Equal(7, usage.GetProperty("prompt_tokens").GetInt32()); // the fake counts 20/4 + 8/4
        Assert.Equal(7 * 0.0000001m, usage.GetProperty("cost").GetDecimal());
        var id = response.Headers.GetValues("X-Generation-Id").Single();
        Assert.Equal(id, root.GetProperty("id").GetString());

        var upstream = fixture.Fake.Requests.Last(r => r.Path == "/v1/embeddings");
        Assert.Equal("text-embedding-3-small", upstream.Model);
        Assert.Equal("Bearer sk-upstream-embeddings", upstream.Headers["Authorization"]);

        var record = await fixture.Tollgate.Service<IUsageStore>().FindGenerationAsync(accountId, id, Ct);
        Assert.True(record is { Model: "fake/embed", PromptTokens: 7, CompletionTokens: 0, Status: 200, AppTitle: "RAG indexer", UpstreamModel: "text-embedding-3-small" },
            record?.ToString());
        Assert.Equal(Money.ToNanos(7 * 0.0000001m), record!.CostNanos);
        Assert.Equal(record.CostNanos, (await fixture.Tollgate.Service<IBillingStore>().GetCreditsAsync(accountId, Ct)).UsageNanos);

        using var generation = await http.GetAsync($"/api/v1/generation?id={id}", Ct);
        var data = (await generation.ReadAsync()).GetProperty("data");
        Assert.Equal(7, data.GetProperty("tokens_prompt").GetInt32());
        Assert.Equal(7 * 0.0000001m, data.GetProperty("total_cost").GetDecimal());
    }

    [Fact]
    public async Task OpenAiSdk_Base64ByDefault_AgainstTheUpstream()
    {
        var (_, secret) = await fixture.AccountAsync();
        var client = fixture.Tollgate.OpenAiEmbeddings(secret, "fake/embed");
        var result = await client.GenerateEmbeddingsAsync(["hello world"], new EmbeddingGenerationOptions { Dimensions = 6 }, Ct);
        var vector = Assert.Single(result.Value).ToFloats().ToArray();
        Assert.Equal(6, vector.Length);
        Assert.Contains("\"encoding_format\":\"base64\"", fixture.Fake.Requests.Last(r => r.Path == "/v1/embeddings").Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"input":"x"}""", 400, "model")]
    [InlineData("""{"model":"demo/embed"}""", 400, "input")]
    [InlineData("""{"model":"demo/embed","input":[]}""", 400, "input")]
    [InlineData("""{"model":"demo/embed","input":[[1,2,3]]}""", 400, "token ids")]
    [InlineData("""{"model":"demo/embed","input":["ok",""]}""", 400, "empty")]
    [InlineData("""{"model":"demo/embed","input":"x","encoding_format":"int8"}""", 400, "encoding_format")]
    [InlineData("""{"model":"demo/embed","input":"x","dimensions":0}""", 400, "dimensions")]
    [InlineData("""{"model":"demo/embed","input":"x","dimensions":100000}""", 400, "dimensions")]
    [InlineData("""{"model":"demo/echo","input":"x"}""", 400, "not an embedding model")]
    [InlineData("""{"model":"nobody/nothing","input":"x"}""", 404, "nobody/nothing")]
    public async Task BadRequests_AreRefusedNamingTheProblem_AndChargeNothing(string body, int status, string inMessage)
    {
        var (accountId, secret) = await fixture.AccountAsync();
        using var http = fixture.Tollgate.Client(secret);
        using var response = await http.PostAsync("/api/v1/embeddings", Json.Body(body), Ct);
        var error = await response.AssertErrorAsync((HttpStatusCode)status);
        Assert.Contains(inMessage, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await fixture.Tollgate.Service<IBillingStore>().GetCreditsAsync(accountId, Ct)).UsageNanos);
    }

    [Fact]
    public async Task TooManyInputs_AreRefused()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var http = fixture.Tollgate.Client(secret);
        var inputs = string.Join(',', Enumerable.Repeat("\"x\"", 2049));
        using var response = await http.PostAsync("/api/v1/embeddings", Json.Body($$"""{"model":"demo/embed","input":[{{inputs}}]}"""), Ct);
        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Contains("2048", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ManyInputsTimesManyDimensions_AreRefused_ACheapRequestCannotBuildAHugeAnswer()
    {
        var (accountId, secret) = await fixture.AccountAsync();
        using var http = fixture.Tollgate.Client(secret);
        var inputs = string.Join(',', Enumerable.Repeat("\"x\"", 2048));
        using var response = await http.PostAsync("/api/v1/embeddings", Json.Body($$"""{"model":"demo/embed","input":[{{inputs}}],"dimensions":16384}"""), Ct);
        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Contains("dimensions", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await fixture.Tollgate.Service<IBillingStore>().GetCreditsAsync(accountId, Ct)).UsageNanos);

        using var fits = await http.PostAsync("/api/v1/embeddings", Json.Body($$"""{"model":"demo/embed","input":[{{inputs}}],"dimensions":1024}"""), Ct);
        Assert.Equal(HttpStatusCode.OK, fits.StatusCode);
    }

    [Fact]
    public async Task NoCredits_Is402_BeforeTheUpstreamIsCalled()
    {
        var (_, secret) = await fixture.AccountAsync(credits: 0m);
        var before = fixture.Fake.Requests.Count(r => r.Path == "/v1/embeddings");
        using var http = fixture.Tollgate.Client(secret);
        using var response = await http.PostAsync("/api/v1/embeddings", Json.Body("""{"model":"fake/embed","input":"hello"}"""), Ct);
        await response.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        Assert.Equal(before, fixture.Fake.Requests.Count(r => r.Path == "/v1/embeddings"));
    }

    [Fact]
    public async Task ChatToAnEmbeddingModel_IsRefused_AndAKeyOfOtherModelsIsForbidden()
    {
        var (_, secret) = await fixture.AccountAsync();
        using var http = fixture.Tollgate.Client(secret);
        using var chat = await http.PostAsync("/api/v1/chat/completions", Json.Body("""{"model":"demo/embed","messages":[{"role":"user","content":"hi"}]}"""), Ct);
        var error = await chat.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Contains("/api/v1/embeddings", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        var (_, narrow) = await fixture.AccountAsync(key: """{"name":"chat only","models":["demo/echo"]}""");
        var client = fixture.Tollgate.OpenAiEmbeddings(narrow, "demo/embed");
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.GenerateEmbeddingAsync("hi", cancellationToken: Ct));
        Assert.Equal(403, refused.Status);
    }

    [Fact]
    public async Task UnpricedModel_IsFree_AndMarkedUnpriced()
    {
        var (accountId, secret) = await fixture.AccountAsync();
        using var http = fixture.Tollgate.Client(secret);
        using var response = await http.PostAsync("/api/v1/embeddings", Json.Body("""{"model":"fake/embed-free","input":"hello there"}"""), Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var record = await fixture.Tollgate.Service<IUsageStore>().FindGenerationAsync(accountId, response.Headers.GetValues("X-Generation-Id").Single(), Ct);
        Assert.True(record is { Unpriced: true, CostNanos: 0 }, record?.ToString());
    }
}
