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
}
