using System.Net;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Gateway;

public sealed class ChatRequestValidationTests(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    private async Task<HttpClient> ClientAsync(string json = """{"name":"t"}""")
    {
        var account = await factory.CreateAccountAsync();
        return factory.Client((await factory.CreateKeyAsync(account.Id, json)).Secret);
    }

    [Theory]
    [InlineData("""{"model":"demo/echo"}""", "messages", "messages must be a non-empty array")]
    [InlineData("""{"model":"demo/echo","messages":"hi"}""", "messages", "messages must be a non-empty array")]
    [InlineData("""{"model":"demo/echo","messages":[]}""", "messages", "messages must be a non-empty array")]
    [InlineData("""{"model":"demo/echo","messages":[5]}""", "messages", "messages[0] must be an object")]
    [InlineData("""{"model":"demo/echo","messages":[{"role":"wizard","content":"x"}]}""", "messages", "messages[0].role must be one of")]
    [InlineData("""{"model":"demo/echo","messages":[{"role":"user","content":42}]}""", "messages", "messages[0].content must be a string or an array")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}]}""", "model", "model is required")]
    [InlineData("""{"model":7,"messages":[{"role":"user","content":"x"}]}""", "model", "model must be a string")]
    [InlineData("""{"model":"demo/echo","stream":"yes","messages":[{"role":"user","content":"x"}]}""", "stream", "stream must be true or false")]
    [InlineData("""{"model":"demo/echo","max_tokens":-1,"messages":[{"role":"user","content":"x"}]}""", "max_tokens", "max_tokens must be a positive whole number")]
    [InlineData("""{"model":"demo/echo","max_tokens":100000,"messages":[{"role":"user","content":"x"}]}""", "max_tokens", "writes at most 1024 tokens")]
    [InlineData("""{"model":"demo/echo","models":"x","messages":[{"role":"user","content":"x"}]}""", "models", "models must be an array")]
    [InlineData("""{"model":"demo/echo","provider":{"order":"demo"},"messages":[{"role":"user","content":"x"}]}""", "provider.order", "provider.order must be an array")]
    public async Task BadRequest_Gets400NamingTheField(string body, string param, string message)
    {
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(body), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal(param, error.GetProperty("metadata").GetProperty("param").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownModel_Gets404SayingHowToListModels()
    {
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
            """{"model":"nope/nothing","messages":[{"role":"user","content":"x"}]}"""), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.NotFound);
        Assert.Contains("nope/nothing", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("GET /api/v1/models", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelOutsideTheKeysAllowList_Gets403ModelNotAllowed()
    {
        using var client = await ClientAsync("""{"name":"t","models":["openai/*"]}""");

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
            """{"model":"demo/echo","messages":[{"role":"user","content":"x"}]}"""), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("model_not_allowed", error.GetProperty("metadata").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task KeyWithoutInferenceScope_Gets403MissingScope()
    {
        using var client = await ClientAsync("""{"name":"t","scopes":["keys:read"]}""");

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
            """{"model":"demo/echo","messages":[{"role":"user","content":"x"}]}"""), TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("inference", error.GetProperty("metadata").GetProperty("required_scope").GetString());
    }

    [Fact]
    public async Task MalformedJson_Gets400()
    {
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body("{\"model\":"), TestContext.Current.CancellationToken);

        await response.AssertErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task UnknownFields_AreIgnored()
    {
        using var client = await ClientAsync();

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
            """{"model":"demo/echo","frobnicate":{"x":1},"messages":[{"role":"user","content":"x","extra":true}]}"""), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
