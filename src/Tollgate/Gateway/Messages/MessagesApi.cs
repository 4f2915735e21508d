using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Http;
using Tollgate.Models;
using Tollgate.Providers;
using Tollgate.RateLimiting;

namespace Tollgate.Gateway.Messages;

/// <summary>
/// Anthropic's Messages API as a way in: <c>POST /api/v1/messages</c> and <c>POST /api/v1/messages/count_tokens</c>, so
/// <c>ANTHROPIC_BASE_URL=http://HOST/api</c> works for Claude Code and the Anthropic SDKs. The key comes as <c>x-api-key</c>
/// or <c>Authorization: Bearer</c>; scopes, model allow-lists, credits, rate limits and the usage log are those of the chat
/// endpoint, which does the call (<see cref="ChatCompletionsApi.ServeAsync(HttpContext, Func{GatewayOptions, Task{ChatRequest}}?, IChatAnswerFormat)"/>).
/// Errors take Anthropic's shape (<see cref="MessagesErrors"/>).
/// </summary>
internal static class MessagesApi
{
    private const int MaxBetaHeaderLength = 1024;

    public static IEndpointRouteBuilder MapMessagesApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/messages", HandleAsync).RequireScope(ApiKeyScopes.Inference).RequireRateLimit();
        app.MapPost("/api/v1/messages/count_tokens", CountTokensAsync).RequireScope(ApiKeyScopes.Inference).RequireRateLimit();
        return app;
    }

    private static Task HandleAsync(HttpContext context, ModelCatalog catalog)
    {
        var format = new AnthropicAnswerFormat();
        return ChatCompletionsApi.ServeAsync(context, async options =>
        {
            var body = await MessagesRequest.ReadAsync(context.Request, context.RequestAborted);
            MessagesRequest.Sanitise(body);
            var translated = MessagesRequest.ToOpenAi(body, requireMaxTokens: true, out var unsupported);

            // A block only Anthropic understands is refused, naming it, for a model another kind of upstream may answer.
            if (unsupported is not null && catalog.TryGet((string)translated["model"]!, out var model) && !OnlyAnthropic(catalog, model))
            {
                throw ApiException.BadRequest(
                    $"{model.Id} is not served by Anthropic, and a {unsupported} block has no equivalent in its upstream's format", "messages");
            }

            var beta = context.Request.Headers["anthropic-beta"].ToString();
            var request = ChatRequest.FromBody(translated, options) with
            {
                Anthropic = new AnthropicPassthrough(body, beta.Length is > 0 and <= MaxBetaHeaderLength ? HeaderText.Clean(beta, MaxBetaHeaderLength) : null),
            };

            format.RequestedModel = request.ModelIds[0];
            return request;
        }, format);
    }

    private static async Task<IResult> CountTokensAsync(HttpContext context, ChatRouter router, TokenCounter tokens, IOptions<GatewayOptions> options)
    {
        var body = await MessagesRequest.ReadAsync(context.Request, context.RequestAborted);
        var translated = MessagesRequest.ToOpenAi(body, requireMaxTokens: false, out _);
        var request = ChatRequest.FromBody(translated, options.Value);
        var model = router.ResolveModels(request, context.GetApiKey())[0];
        var count = tokens.CountPrompt(translated, model.ContextLength, context.RequestAborted);
        return TypedResults.Json(new JsonObject { ["input_tokens"] = count.For(model) });
    }

    private static bool OnlyAnthropic(ModelCatalog catalog, ModelDefinition model) =>
        model.Deployments.Count > 0 && model.Deployments.All(d =>
            catalog.Providers.TryGetValue(d.Provider, out var provider) && string.Equals(provider.Type, "anthropic", StringComparison.OrdinalIgnoreCase));
}
