using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;
using Scalar.AspNetCore;

namespace Tollgate.Http;

/// <summary>
/// The API's OpenAPI document, generated from the endpoints (<c>Microsoft.AspNetCore.OpenApi</c>) at <c>/openapi/v1.json</c>,
/// and an interactive reference (Scalar) at <c>/docs</c>. The generator describes the typed endpoints from their response
/// types; this adds what it cannot see: the Bearer and <c>x-api-key</c> security schemes with each operation's scope, the
/// error envelope (Anthropic's for the Messages API) on every operation, and the request and answer shapes of the
/// endpoints that stream or pass JSON through (chat completions, messages, embeddings), from <see cref="ApiSchemas"/>.
/// </summary>
internal static class ApiDocumentation
{
    public const string DocumentPath = "/openapi/v1.json";

    /// <summary>The same document as OpenAPI 3.0.</summary>
    public const string Document30Path = "/openapi/v1-openapi3.0.json";
    public const string ReferencePath = "/docs";

    public static WebApplicationBuilder AddApiDocumentation(this WebApplicationBuilder builder)
    {
        // The schemas are those of the JSON the endpoints write: their source-generated contexts (snake_case names).
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            // A context's own naming applies only to its own options: here, the wire's snake_case is set for the schemas.
            json.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
            json.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiKeys.ApiKeyJsonContext.Default);
            json.SerializerOptions.TypeInfoResolverChain.Insert(0, Credits.CreditsJsonContext.Default);
            json.SerializerOptions.TypeInfoResolverChain.Insert(0, Models.ModelsJsonContext.Default);
            json.SerializerOptions.TypeInfoResolverChain.Insert(0, Usage.UsageJsonContext.Default);
        });

        // The same document twice: OpenAPI 3.1 (the default, what /docs reads) and 3.0, for client generators that read only 3.0.
        foreach (var (name, version) in new[] { ("v1", OpenApiSpecVersion.OpenApi3_1), ("v1-openapi3.0", OpenApiSpecVersion.OpenApi3_0) })
        {
            builder.Services.AddOpenApi(name, options => Configure(options, version));
        }

        return builder;
    }

    public static WebApplication MapApiDocumentation(this WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapScalarApiReference(ReferencePath, scalar => scalar
            .WithTitle("Tollgate API")
            .WithOpenApiRoutePattern(DocumentPath)
            .WithDefaultHttpClient(ScalarTarget.Shell, ScalarClient.Curl));
        return app;
    }

    private static void Configure(OpenApiOptions options, OpenApiSpecVersion version)
    {
        options.OpenApiVersion = version;
        options.ShouldInclude = description => description.RelativePath is { } path &&
            (path.StartsWith("api/v1/", StringComparison.Ordinal) || path is "healthz" or "readyz" or "metrics");
        options.AddDocumentTransformer((document, _, _) =>
        {
            Describe(document);
            return Task.CompletedTask;
        });
        options.AddSchemaTransformer((schema, context, _) =>
        {
            // A property left out when null (JsonIgnore WhenWritingNull) is not required, whatever the constructor says.
            if (context.JsonPropertyInfo is null && context.JsonTypeInfo.Kind == System.Text.Json.Serialization.Metadata.JsonTypeInfoKind.Object &&
                schema.Required is { Count: > 0 } required)
            {
                foreach (var property in context.JsonTypeInfo.Properties.Where(p => p.ShouldSerialize is not null))
                {
                    required.Remove(property.Name);
                }
            }

            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            Describe(operation, context);
            return Task.CompletedTask;
        });
    }

    private static void Describe(OpenApiDocument document)
    {
        document.Info = new OpenApiInfo
        {
            Title = "Tollgate API",
            Version = "v1",
            Description = "Tollgate's OpenAI-compatible API (and Anthropic's Messages API) at /api/v1. The reference for people is docs/api.md " +
                "in the repository; this document is generated from the running server.",
        };
        document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>
        {
            ["bearer"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "A Tollgate API key: Authorization: Bearer sk-tg-v1-...",
            },
            ["x-api-key"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = "x-api-key",
                Description = "The same key as x-api-key, as Anthropic's SDKs send it: accepted on /api/v1/messages only.",
            },
        };
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        foreach (var (name, json) in ApiSchemas.All)
        {
            document.Components.Schemas[name] = OpenApiModelFactory.Parse<OpenApiSchema>(json, OpenApiSpecVersion.OpenApi3_1, document, out _, "json")
                ?? throw new InvalidOperationException($"The schema {name} does not parse");
        }
    }

    private static void Describe(OpenApiOperation operation, OpenApiOperationTransformerContext context)
    {
        var description = context.Description;
        var path = "/" + description.RelativePath;
        var metadata = description.ActionDescriptor.EndpointMetadata;
        var messages = path.StartsWith(Gateway.Messages.MessagesErrors.PathPrefix, StringComparison.Ordinal);
        var error = new OpenApiSchemaReference(messages ? "AnthropicError" : "Error", context.Document);
        var secured = !metadata.OfType<IAllowAnonymous>().Any() &&
            (metadata.OfType<IAuthorizeData>().Any() || metadata.OfType<AuthorizationPolicy>().Any());
        var scope = metadata.OfType<IAuthorizeData>().Select(a => a.Policy).FirstOrDefault(p => p?.StartsWith("scope:", StringComparison.Ordinal) == true)?[6..];

        operation.Tags = new HashSet<OpenApiTagReference> { new(Tag(path), context.Document) };
        if (secured)
        {
            operation.Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", context.Document)] = [] },
                .. messages ? [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("x-api-key", context.Document)] = [] }] : Array.Empty<OpenApiSecurityRequirement>(),
            ];
            operation.Description = (operation.Description is { Length: > 0 } said ? said + "\n\n" : "") +
                (scope is null ? "Any valid API key." : $"Needs an API key with the `{scope}` scope.");
        }

        if (ApiSchemas.Operations.TryGetValue($"{description.HttpMethod} {path}", out var shapes))
        {
            operation.Summary ??= shapes.Summary;
            if (shapes.Request is { } request)
            {
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/json"] = new() { Schema = new OpenApiSchemaReference(request, context.Document) },
                    },
                };
            }

            operation.Responses ??= new OpenApiResponses();
            if (shapes.Responses.Count > 0)
            {
                var content = new Dictionary<string, OpenApiMediaType>();
                foreach (var (mediaType, schema) in shapes.Responses)
                {
                    content[mediaType] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(schema, context.Document) };
                }

                operation.Responses["200"] = new OpenApiResponse { Description = shapes.Summary, Content = content };
            }
        }

        operation.Responses ??= new OpenApiResponses();
        if (!path.StartsWith("/api/v1/", StringComparison.Ordinal))
        {
            if (path == "/readyz")
            {
                operation.Responses.TryAdd("503", new OpenApiResponse { Description = "Storage is not reachable.", Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = error } } });
            }

            return;
        }

        var statuses = new List<(string, string)> { ("400", "A field is missing or invalid; the message names it.") };
        if (secured)
        {
            statuses.Add(("401", "No API key, or an invalid one (unknown, disabled, expired or deleted)."));
            statuses.Add(("403", "The key lacks the scope, or may not use the model."));
        }

        if (scope == "inference")
        {
            statuses.Add(("402", "Not enough credits (the account's or the key's limit) for what the call may cost."));
            statuses.Add(("429", "The key's rate limit, or the upstream's (Retry-After says when to try again)."));
            statuses.Add(("502", "The upstream failed or answered something invalid."));
            statuses.Add(("503", "No upstream could be reached."));
        }

        statuses.Add(("404", "Not found: an unknown model, key or generation (or one of another account)."));
        foreach (var (status, text) in statuses)
        {
            operation.Responses.TryAdd(status, new OpenApiResponse
            {
                Description = text,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = error } },
            });
        }

        operation.Responses.TryAdd("default", new OpenApiResponse
        {
            Description = "Any other error, in the same envelope.",
            Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = error } },
        });
    }

    private static readonly (string Name, string Description)[] Tags =
    [
        ("Chat", "OpenAI's chat completions: the gateway's main endpoint."),
        ("Anthropic Messages", "Anthropic's Messages API, for Claude Code and the Anthropic SDKs."),
        ("Embeddings", "OpenAI's embeddings."),
        ("Models", "The model catalogue."),
        ("API keys", "The account's keys, and the calling key."),
        ("Credits", "The account's credits, and grants by owners and admins."),
        ("Usage", "Generations and usage aggregates."),
        ("Operations", "Health checks."),
    ];

    private static string Tag(string path) => path switch
    {
        _ when path.StartsWith("/api/v1/chat", StringComparison.Ordinal) => "Chat",
        _ when path.StartsWith("/api/v1/messages", StringComparison.Ordinal) => "Anthropic Messages",
        _ when path.StartsWith("/api/v1/embeddings", StringComparison.Ordinal) => "Embeddings",
        _ when path.StartsWith("/api/v1/models", StringComparison.Ordinal) => "Models",
        _ when path.StartsWith("/api/v1/api-keys", StringComparison.Ordinal) || path == "/api/v1/key" => "API keys",
        _ when path.Contains("credits", StringComparison.Ordinal) => "Credits",
        _ when path.StartsWith("/api/v1/generation", StringComparison.Ordinal) || path == "/api/v1/usage" => "Usage",
        _ => "Operations",
    };
}
