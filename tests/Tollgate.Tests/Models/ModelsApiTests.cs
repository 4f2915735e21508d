using System.Net;
using System.Text.Json;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Models;

public sealed class ModelsApiTests(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    [Fact]
    public async Task List_WithoutKey_ShowsTheDemoModelInTheSpecShape()
    {
        using var client = factory.Client();

        using var response = await client.GetAsync("/api/v1/models", TestContext.Current.CancellationToken);
        var model = (await response.ReadAsync()).GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == "demo/echo");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["context_length", "description", "id", "name", "pricing", "supported_parameters", "top_provider"], model.PropertyNames());
        Assert.Contains("demo", model.GetProperty("description").GetString(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal("0.000001", model.GetProperty("pricing").GetProperty("prompt").GetString());
        Assert.Equal("0.000002", model.GetProperty("pricing").GetProperty("completion").GetString());
        Assert.Equal(1024, model.GetProperty("top_provider").GetProperty("max_completion_tokens").GetInt32());
    }

    [Fact]
    public async Task List_WithRestrictedKey_ShowsOnlyAllowedModels()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"t","models":["openai/*"]}""");
        using var client = factory.Client(secret);

        using var response = await client.GetAsync("/api/v1/models", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, (await response.ReadAsync()).GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task List_WithInvalidKey_Gets401()
    {
        using var client = factory.Client("sk-tg-v1-bogus");

        using var response = await client.GetAsync("/api/v1/models", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("""{"error":{"code":401,"message":"Invalid API key","metadata":{}}}""", await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("/api/v1/models/demo/echo")]
    [InlineData("/api/v1/models/demo%2Fecho")]
    [InlineData("/api/v1/models/demo%2fecho")]
    public async Task Get_OneModel_WithThePlainOrTheEncodedSlash(string path)
    {
        using var client = factory.Client();

        using var response = await client.GetAsync(path, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var model = await response.ReadAsync();
        Assert.Equal("demo/echo", model.GetProperty("id").GetString());
        Assert.Equal(["context_length", "description", "id", "name", "pricing", "supported_parameters", "top_provider"], model.PropertyNames());
    }

    [Fact]
    public async Task Get_WithTheOpenAiSdk_ModelsRetrieve()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        var models = new OpenAI.Models.OpenAIModelClient(new System.ClientModel.ApiKeyCredential(secret),
            new OpenAI.OpenAIClientOptions { Endpoint = new Uri(factory.Address, "/api/v1") });

        var model = await models.GetModelAsync("demo/echo", TestContext.Current.CancellationToken);

        Assert.Equal("demo/echo", model.Value.Id);
    }

    [Theory]
    [InlineData("/api/v1/models/demo/nothing-here", "Model not found: demo/nothing-here")]
    [InlineData("/api/v1/models/%E2%80%AEevil%1B%5B31m", "Model not found: \u202Eevil[31m")]
    public async Task Get_UnknownModel_Is404InTheEnvelope(string path, string message)
    {
        using var client = factory.Client();

        using var response = await client.GetAsync(path, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(message, (await response.ReadAsync()).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task Get_AModelTheKeyMayNotUse_IsNotFound_AndABadKeyIs401()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"t","models":["openai/*"]}""");
        using var restricted = factory.Client(secret);
        using var bogus = factory.Client("sk-tg-v1-bogus");

        using var hidden = await restricted.GetAsync("/api/v1/models/demo%2Fecho", TestContext.Current.CancellationToken);
        using var refused = await bogus.GetAsync("/api/v1/models/demo%2Fecho", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("""{"error":{"code":401,"message":"Invalid API key","metadata":{}}}""", await refused.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }
}
