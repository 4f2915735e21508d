extern alias JsonSchemaNet;

using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using JsonSchemaNet::Json.Schema;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using Tollgate.Credits;
using Tollgate.Tests.Dashboard;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Http;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c>: it is valid OpenAPI 3.1, it has every mapped API route with its security
/// and the error envelope, and real answers of the running server validate against the schemas it documents for them.
/// The reference at <c>/docs</c> opens in a browser and lists the endpoints.
/// </summary>
public sealed class OpenApiTests(Browser browser) : IDisposable
{
    private readonly TollgateFactory _tollgate = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    private async Task<JsonObject> DocumentAsync()
    {
        using var client = _tollgate.Client();
        using var response = await client.GetAsync("/openapi/v1.json", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!.AsObject();
    }

    [Fact]
    public async Task Document_IsValidOpenApi31_WithTheSecuritySchemes_AndTheErrorEnvelopeOnEveryOperation()
    {
        using var client = _tollgate.Client();
        var text = await client.GetStringAsync("/openapi/v1.json", Ct);
        var (document, diagnostic) = OpenApiDocument.Parse(text, "json");
        Assert.Empty(diagnostic?.Errors ?? []);
        Assert.NotNull(document);
        Assert.StartsWith("3.1", JsonNode.Parse(text)!["openapi"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(["bearer", "x-api-key"], document.Components!.SecuritySchemes!.Keys.Order(StringComparer.Ordinal));

        var json = JsonNode.Parse(text)!.AsObject();
        foreach (var (path, item) in json["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                var responses = operation!["responses"]!.AsObject();
                Assert.True(responses.ContainsKey("200") || responses.ContainsKey("201"), $"{method} {path} documents no success");
                if (!path.StartsWith("/api/v1/", StringComparison.Ordinal))
                {
                    continue;
                }

                var envelope = path.StartsWith("/api/v1/messages", StringComparison.Ordinal) ? "AnthropicError" : "Error";
                Assert.Equal($"#/components/schemas/{envelope}", (string?)responses["default"]?["content"]?["application/json"]?["schema"]?["$ref"]);
                var isPublic = path.StartsWith("/api/v1/models", StringComparison.Ordinal);
                Assert.True(isPublic == operation["security"] is null, $"{method} {path}: security {operation["security"]?.ToJsonString()}");
                if (!isPublic)
                {
                    Assert.True(responses.ContainsKey("401"), $"{method} {path} documents no 401");
                }
            }
        }
    }

    [Fact]
    public async Task TheSameDocument_AsOpenApi30_ForGeneratorsThatReadOnly30()
    {
        using var client = _tollgate.Client();
        var text = await client.GetStringAsync("/openapi/v1-openapi3.0.json", Ct);
        var (document, diagnostic) = OpenApiDocument.Parse(text, "json");
        Assert.Empty(diagnostic?.Errors ?? []);
        Assert.StartsWith("3.0", JsonNode.Parse(text)!["openapi"]!.GetValue<string>(), StringComparison.Ordinal);
        var v31 = (await DocumentAsync())["paths"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal);
        Assert.Equal(v31, document!.Paths.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("ChatCompletionRequest", document.Components!.Schemas!.Keys);
    }

    [Fact]
    public async Task EveryMappedApiRoute_IsInTheDocument()
    {
        var document = await DocumentAsync();
        var paths = document["paths"]!.AsObject();
        var routes = _tollgate.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && (raw.StartsWith("/api/v1", StringComparison.Ordinal) || raw is "/healthz" or "/readyz"))
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? []).Select(m => (Path: e.RoutePattern.RawText!, Method: m)))
            .ToArray();
        Assert.True(routes.Length >= 20, string.Join(", ", routes));

        foreach (var (path, method) in routes)
        {
            var documented = path.TrimEnd('/').Replace("{**id}", "{id}", StringComparison.Ordinal);
            Assert.True(paths[documented]?[method.ToLowerInvariant()] is not null, $"{method} {path} is mapped but not in the OpenAPI document");
        }
    }

    [Fact]
    public async Task RealAnswers_ValidateAgainstTheDocumentedSchemas()
    {
        var document = await DocumentAsync();
        var account = await _tollgate.CreateAccountAsync();
        await _tollgate.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(5m), "test", null, null, Ct);
        var (key, secret) = await _tollgate.CreateKeyAsync(account.Id, """{"name":"schema","limit":3,"limit_reset":"daily"}""");
        using var api = _tollgate.Client(secret);

        async Task<string> CheckAsync(HttpMethod method, string url, string? body, int status, string documentedPath, string mediaType = "application/json")
        {
            using var request = new HttpRequestMessage(method, url) { Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await api.SendAsync(request, Ct);
            var text = await response.Content.ReadAsStringAsync(Ct);
            Assert.True((int)response.StatusCode == status, $"{method} {url}: {(int)response.StatusCode} {text}");
            var schema = Schema(document, documentedPath, method.Method.ToLowerInvariant(), status.ToString(System.Globalization.CultureInfo.InvariantCulture), mediaType);
            var instances = mediaType == "text/event-stream"
                ? text.Split("\n").Where(l => l.StartsWith("data: {", StringComparison.Ordinal)).Select(l => l[6..]).ToArray()
                : [text];
            Assert.NotEmpty(instances);
            foreach (var instance in instances)
            {
                var result = schema.Evaluate(JsonDocument.Parse(instance).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
                Assert.True(result.IsValid, $"{method} {url} does not match its schema:\n{instance}\n{JsonSerializer.Serialize((result.Details ?? []).Where(d => !d.IsValid).Select(d => new { d.InstanceLocation, d.EvaluationPath, d.Errors }))}");
            }

            return text;
        }

        var chat = """{"model":"demo/echo","messages":[{"role":"user","content":"Hello schema"}]}""";
        var generation = JsonNode.Parse(await CheckAsync(HttpMethod.Post, "/api/v1/chat/completions", chat, 200, "/api/v1/chat/completions"))!["id"]!.GetValue<string>();
        await CheckAsync(HttpMethod.Post, "/api/v1/chat/completions", chat.Replace("}]}", "}],\"stream\":true}", StringComparison.Ordinal), 200, "/api/v1/chat/completions", "text/event-stream");
        await CheckAsync(HttpMethod.Post, "/api/v1/embeddings", """{"model":"demo/embed","input":["a","b"],"dimensions":3}""", 200, "/api/v1/embeddings");
        await CheckAsync(HttpMethod.Post, "/api/v1/messages", """{"model":"demo/echo","max_tokens":64,"messages":[{"role":"user","content":"Hi"}]}""", 200, "/api/v1/messages");
        await CheckAsync(HttpMethod.Post, "/api/v1/messages", """{"model":"demo/echo","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}""", 200, "/api/v1/messages", "text/event-stream");
        await CheckAsync(HttpMethod.Post, "/api/v1/messages/count_tokens", """{"model":"demo/echo","messages":[{"role":"user","content":"Hi"}]}""", 200, "/api/v1/messages/count_tokens");
        await CheckAsync(HttpMethod.Post, "/api/v1/messages", """{"model":"nobody/nothing","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}""", 404, "/api/v1/messages");
        await CheckAsync(HttpMethod.Get, "/api/v1/models", null, 200, "/api/v1/models");
        await CheckAsync(HttpMethod.Get, "/api/v1/models/demo%2Fecho", null, 200, "/api/v1/models/{id}");
        await CheckAsync(HttpMethod.Get, "/api/v1/key", null, 200, "/api/v1/key");
        await CheckAsync(HttpMethod.Get, "/api/v1/credits", null, 200, "/api/v1/credits");
        await CheckAsync(HttpMethod.Get, "/api/v1/api-keys", null, 200, "/api/v1/api-keys");
        await CheckAsync(HttpMethod.Get, $"/api/v1/api-keys/{key.Id}", null, 200, "/api/v1/api-keys/{id}");
        await CheckAsync(HttpMethod.Post, "/api/v1/api-keys", """{"name":"made","scopes":["inference"],"expires_at":"2030-01-01T00:00:00Z"}""", 201, "/api/v1/api-keys");
        await CheckAsync(HttpMethod.Patch, $"/api/v1/api-keys/{key.Id}", """{"limit":2}""", 200, "/api/v1/api-keys/{id}");
        await CheckAsync(HttpMethod.Get, $"/api/v1/generation?id={generation}", null, 200, "/api/v1/generation");
        await CheckAsync(HttpMethod.Get, "/api/v1/generations?limit=5", null, 200, "/api/v1/generations");
        await CheckAsync(HttpMethod.Get, "/api/v1/usage?group_by=model", null, 200, "/api/v1/usage");
        await CheckAsync(HttpMethod.Get, "/api/v1/generation?id=gen-nothing", null, 404, "/api/v1/generation");
        await CheckAsync(HttpMethod.Post, "/api/v1/chat/completions", """{"model":"demo/echo"}""", 400, "/api/v1/chat/completions");
        await CheckAsync(HttpMethod.Post, "/api/v1/admin/credits", """{"email":"x@example.com","amount":1}""", 403, "/api/v1/admin/credits");
    }

    [Fact]
    public async Task Reference_OpensInABrowser_AndListsTheEndpoints()
    {
        var page = await browser.NewPageAsync(_tollgate.Address);
        var response = await page.GotoAsync("/docs");
        Assert.Equal(200, response!.Status);
        try
        {
            await page.GetByText("A chat completion, whole or streamed").First.WaitForAsync(new() { Timeout = 30_000 });
        }
        catch (TimeoutException)
        {
            await Screenshots.SaveAsync(page, "api-reference-failed");
            Assert.Fail("The reference shows no endpoint. Console: " + string.Join(" | ", Browser.ConsoleErrors.TryGetValue(page, out var logged) ? logged : []));
        }

        var text = await page.Locator("body").InnerTextAsync();
        foreach (var expected in new[] { "Tollgate API", "Anthropic Messages", "Embeddings", "API keys", "Credits", "/api/v1/chat/completions", "ChatCompletionRequest" })
        {
            Assert.Contains(expected, text, StringComparison.Ordinal);
        }

        var errors = Browser.ConsoleErrors.TryGetValue(page, out var printed) ? printed : [];
        Assert.DoesNotContain(errors, e => e.Contains("script-src", StringComparison.Ordinal));
        await Screenshots.SaveAsync(page, "api-reference");
    }

    /// <summary>The documented schema of one answer, its <c>$ref</c>s inlined, as a JSON Schema.</summary>
    private static JsonSchema Schema(JsonObject document, string path, string method, string status, string mediaType)
    {
        var responses = document["paths"]?[path]?[method]?["responses"] ?? throw new InvalidOperationException($"{method} {path} is not documented");
        var schema = (responses[status] ?? responses["default"])?["content"]?[mediaType]?["schema"]
            ?? throw new InvalidOperationException($"{method} {path} documents no {mediaType} schema for {status}");
        var standalone = Inline(schema, document["components"]!["schemas"]!.AsObject(), 0)!.AsObject();
        standalone["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        return JsonSchema.FromText(standalone.ToJsonString());
    }

    private static JsonNode? Inline(JsonNode? node, JsonObject components, int depth)
    {
        Assert.True(depth < 40, "the schemas nest too deep to inline");
        switch (node)
        {
            case JsonObject o when o["$ref"] is JsonValue reference && reference.GetValue<string>() is var target && target.StartsWith("#/components/schemas/", StringComparison.Ordinal):
                return Inline(components[target["#/components/schemas/".Length..]], components, depth + 1);
            case JsonObject o:
                var copy = new JsonObject();
                foreach (var (name, value) in o)
                {
                    copy[name] = Inline(value, components, depth + 1);
                }

                return copy;
            case JsonArray a:
                return new JsonArray([.. a.Select(item => Inline(item, components, depth + 1))]);
            default:
                return node?.DeepClone();
        }
    }
}
