using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authentication;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Http;

namespace Tollgate.Models;

/// <summary><c>GET /api/v1/models</c>: public; with a key, only the models that key may use.</summary>
internal static class ModelsApi
{
    private static readonly string[] SupportedParameters =
    [
        "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop", "seed", "tools", "tool_choice",
        "parallel_tool_calls", "response_format", "presence_penalty", "frequency_penalty", "logit_bias", "user",
    ];

    private static readonly string[] ReasoningParameters = [.. SupportedParameters, "reasoning", "include_reasoning", "reasoning_effort"];

    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/models", ListAsync).AllowAnonymous().Produces<ModelListResponse>().WithSummary("The model catalogue (with a key: the models it may use).");

        // Model ids hold a slash: the OpenAI SDKs send it encoded (models/demo%2Fecho), curl users plain (models/demo/echo).
        app.MapGet("/api/v1/models/{**id}", GetAsync).AllowAnonymous().Produces<ModelDto>().WithSummary("One model; its id's slash plain or encoded.");
        return app;
    }

    private static async Task<IResult> ListAsync(HttpContext context, ModelCatalog catalog)
    {
        if (await AllowedModelsAsync(context) is not { } allowed)
        {
            return Results.Empty;
        }

        var models = catalog.Models
            .Where(m => ModelAllowList.IsAllowed(allowed.Models, m.Id))
            .Select(ToDto)
            .ToArray();
        return TypedResults.Json(new ModelListResponse(models), ModelsJsonContext.Default.ModelListResponse);
    }

    private static async Task<IResult> GetAsync(string id, HttpContext context, ModelCatalog catalog)
    {
        if (await AllowedModelsAsync(context) is not { } allowed)
        {
            return Results.Empty;
        }

        // A model the key may not use reads as one that does not exist: a key learns nothing of the rest of the catalogue.
        var wanted = Uri.UnescapeDataString(id);
        return catalog.TryGet(wanted, out var model) && ModelAllowList.IsAllowed(allowed.Models, model.Id)
            ? TypedResults.Json(ToDto(model), ModelsJsonContext.Default.ModelDto)
            : throw ApiException.NotFound($"Model not found: {HeaderText.Clean(wanted, 200)}");
    }

    private sealed record Allowed(IReadOnlyList<string>? Models);

    /// <summary>The models the caller may see: all without a key; the key's allow-list with one; null after a 401 was sent.</summary>
    private static async Task<Allowed?> AllowedModelsAsync(HttpContext context)
    {
        if (context.Request.Headers.Authorization.Count == 0)
        {
            return new Allowed(null);
        }

        // A key that is sent must be valid: a client with a wrong key learns it here, not later.
        var result = await context.AuthenticateAsync(ApiKeyAuthenticationHandler.SchemeName);
        if (!result.Succeeded)
        {
            await context.ChallengeAsync(ApiKeyAuthenticationHandler.SchemeName);
            return null;
        }

        return new Allowed(context.GetApiKey().Models);
    }

    private static ModelDto ToDto(ModelDefinition model) => new(
        model.Id,
        model.Name ?? model.Id,
        model.Description ?? "",
        model.ContextLength,
        new PricingDto(Price(model.Prices.Prompt), Price(model.Prices.Completion), Price(model.Prices.InputCacheRead), Price(model.Prices.CacheWrite)),
        new TopProviderDto(model.ContextLength, model.MaxCompletionTokens),
        model.Reasoning ? ReasoningParameters : SupportedParameters);

    /// <summary>USD per token as a plain decimal string (<c>"0.000003"</c>), never exponent notation.</summary>
    private static string Price(decimal value) => value.ToString("0.############################", CultureInfo.InvariantCulture);
}

internal sealed record ModelListResponse(IReadOnlyList<ModelDto> Data);

internal sealed record ModelDto(
    string Id,
    string Name,
    string Description,
    int ContextLength,
    PricingDto Pricing,
    TopProviderDto TopProvider,
    IReadOnlyList<string> SupportedParameters);

internal sealed record PricingDto(string Prompt, string Completion, string InputCacheRead, string InputCacheWrite);

internal sealed record TopProviderDto(int ContextLength, int MaxCompletionTokens);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ModelListResponse))]
[JsonSerializable(typeof(ModelDto))]
internal sealed partial class ModelsJsonContext : JsonSerializerContext;
