using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Http;
using Tollgate.Models;
using Tollgate.Providers;
using Tollgate.Storage;

namespace Tollgate.Gateway;

/// <summary>
/// <c>POST /api/v1/chat/completions</c>, top to bottom: authenticate and authorise (the scope
/// policy), read the request, resolve the models the key may use, route to a deployment (with
/// retries and fallbacks), answer — whole or streamed — in the OpenAI shape with Tollgate's ids.
/// Credits (reserve, settle) and the usage record join here with the credits issue.
/// </summary>
internal static class ChatCompletionsApi
{
    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/chat/completions", HandleAsync).RequireScope(ApiKeyScopes.Inference);
        return app;
    }

    private static async Task HandleAsync(HttpContext context, ChatRouter router, ProviderSet providers, TokenCounter tokens,
        TimeProvider time, IOptions<GatewayOptions> options)
    {
        var key = context.GetApiKey();
        var request = await ChatRequest.ReadAsync(context.Request, options.Value.MaxFallbackModels, context.RequestAborted);
        var models = router.ResolveModels(request, key);
        foreach (var model in models)
        {
            if (request.MaxTokens > model.MaxCompletionTokens)
            {
                throw ApiException.BadRequest(
                    $"max_tokens is {request.MaxTokens}, but {model.Id} writes at most {model.MaxCompletionTokens} tokens", "max_tokens");
            }
        }

        var call = new Call(context, request, Ids.Generation(), time.GetUtcNow().ToUnixTimeSeconds(), router, providers, tokens);
        context.Response.Headers["X-Generation-Id"] = call.GenerationId;
        if (request.Stream)
        {
            await StreamAsync(call, models, options.Value.KeepAliveInterval, time);
        }
        else
        {
            await CompleteAsync(call, models);
        }
    }

    private sealed record Call(HttpContext Context, ChatRequest Request, string GenerationId, long Created,
        ChatRouter Router, ProviderSet Providers, TokenCounter Tokens)
    {
        public CancellationToken Aborted => Context.RequestAborted;

        public ChatUsage Estimate(string completionText) =>
            new(Tokens.CountPrompt(Request.Body), Tokens.Count(completionText), 0, Estimated: true);
    }

    private static async Task CompleteAsync(Call call, IReadOnlyList<ModelDefinition> models)
    {
        ChatRouter.Success<JsonObject> result;
        try
        {
            result = await call.Router.ExecuteAsync(call.Request, models,
                (request, token) => call.Providers.For(request.Provider).CompleteAsync(request, token), call.Aborted);
        }
        catch (UpstreamException failure)
        {
            await WriteFailureAsync(call.Context, failure);
            return;
        }

        using var _ = result.Cancellation;
        var answer = result.Value;
        var model = result.Request.Model;
        var usage = ChatUsage.FromOpenAi(answer["usage"]) ?? call.Estimate(CompletionText(answer));
        ChatResponses.Stamp(answer, call.GenerationId, model.Id, "chat.completion");
        answer["created"] ??= call.Created;
        answer["usage"] = usage.ToJson(model.Pricing);

        await ChatResponses.WriteJsonAsync(call.Context.Response, answer, call.Aborted);
    }

    private static string CompletionText(JsonObject answer)
    {
        var text = new StringBuilder();
        foreach (var choice in (answer["choices"] as JsonArray ?? []).OfType<JsonObject>())
        {
            ChatResponses.CollectText(choice["message"] as JsonObject, text);
        }

        return text.ToString();
    }

    /// <summary>A stream that has produced its first chunk, so the answer can start.</summary>
    private sealed record OpenStream(IAsyncEnumerator<JsonObject> Chunks);

    private static async Task StreamAsync(Call call, IReadOnlyList<ModelDefinition> models, TimeSpan keepAlive, TimeProvider time)
    {
        var response = call.Context.Response;
        var attempt = call.Router.ExecuteAsync(call.Request, models, OpenAsync, call.Aborted);

        // Until the upstream's first byte, a comment every few seconds keeps proxies from closing the connection.
        while (!attempt.IsCompleted && !call.Aborted.IsCancellationRequested)
        {
            var tick = Task.Delay(keepAlive, time, call.Aborted);
            if (await Task.WhenAny(attempt, tick) == tick && !attempt.IsCompleted && !call.Aborted.IsCancellationRequested)
            {
                await ChatResponses.WriteKeepAliveAsync(response, call.Aborted);
            }
        }

        ChatRouter.Success<OpenStream> opened;
        try
        {
            opened = await attempt;
        }
        catch (UpstreamException failure)
        {
            await WriteFailureAsync(call.Context, failure, call);
            return;
        }
        catch (OperationCanceledException) when (call.Aborted.IsCancellationRequested)
        {
            return; // the client left; its upstream call was cancelled with it
        }
        catch (ApiException refused) when (response.HasStarted)
        {
            // Keep-alive comments already sent the 200: the refusal travels as the error event.
            await WriteFailureAsync(call.Context, new UpstreamException(refused.StatusCode, refused.Message, retryable: false), call);
            return;
        }

        var chunks = opened.Value.Chunks;
        var model = opened.Request.Model;
        var provider = opened.Request.Provider;
        using var cancellation = opened.Cancellation;
        await using var _ = chunks;
        ChatResponses.StartEventStream(response);
        var writer = response.BodyWriter;
        ChatUsage? usage = null;
        var text = new StringBuilder();
        try
        {
            var chunk = chunks.Current;
            while (true)
            {
                if (chunk["usage"] is JsonObject reported)
                {
                    usage = ChatUsage.FromOpenAi(reported) ?? usage;
                }

                // Usage travels once, at the end; a usage-only chunk is not passed on.
                chunk.Remove("usage");
                if (chunk["choices"] is JsonArray { Count: > 0 } choices)
                {
                    ChatResponses.Stamp(chunk, call.GenerationId, model.Id, "chat.completion.chunk");
                    chunk["created"] ??= call.Created;
                    foreach (var choice in choices.OfType<JsonObject>())
                    {
                        ChatResponses.CollectText(choice["delta"] as JsonObject, text);
                    }

                    await ChatResponses.WriteEventAsync(writer, chunk, call.Aborted);
                }

                cancellation.CancelAfter(provider.IdleTimeout);
                if (!await chunks.MoveNextAsync())
                {
                    break;
                }

                chunk = chunks.Current;
            }
        }
        catch (UpstreamException failure)
        {
            failure.ProviderName ??= provider.Name;
            await ChatResponses.WriteEventAsync(writer, ChatResponses.ErrorEvent(call.GenerationId, model.Id, call.Created, failure, provider.Name), CancellationToken.None);
            return;
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or HttpRequestException)
        {
            if (call.Aborted.IsCancellationRequested)
            {
                return; // the client left mid-stream: the upstream call is cancelled with it
            }

            var idle = new UpstreamException(408, $"{provider.Name} sent nothing for {provider.IdleTimeout.TotalSeconds:0.###} s", retryable: false);
            await ChatResponses.WriteEventAsync(writer, ChatResponses.ErrorEvent(call.GenerationId, model.Id, call.Created, idle, provider.Name), CancellationToken.None);
            return;
        }

        usage ??= call.Estimate(text.ToString());
        var last = new JsonObject
        {
            ["id"] = call.GenerationId,
            ["object"] = "chat.completion.chunk",
            ["created"] = call.Created,
            ["model"] = model.Id,
            ["choices"] = new JsonArray(),
            ["usage"] = usage.ToJson(model.Pricing),
        };
        await ChatResponses.WriteEventAsync(writer, last, call.Aborted);
        await ChatResponses.WriteDoneAsync(writer, call.Aborted);

        async Task<OpenStream> OpenAsync(ProviderRequest request, CancellationToken token)
        {
            var stream = await call.Providers.For(request.Provider).StreamAsync(request, token);
            var enumerator = stream.GetAsyncEnumerator(token);
            try
            {
                return await enumerator.MoveNextAsync()
                    ? new OpenStream(enumerator)
                    : throw new UpstreamException(502, "The upstream ended the stream before answering", retryable: true);
            }
            catch
            {
                await enumerator.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>An upstream failure as the client sees it: the JSON error before the answer started, the error event after.</summary>
    private static async Task WriteFailureAsync(HttpContext context, UpstreamException failure, Call? call = null)
    {
        if (context.Response.HasStarted && call is not null)
        {
            await ChatResponses.WriteEventAsync(context.Response.BodyWriter,
                ChatResponses.ErrorEvent(call.GenerationId, call.Request.ModelIds[0], call.Created, failure, failure.ProviderName), CancellationToken.None);
            return;
        }

        var metadata = new Dictionary<string, object?> { ["provider_name"] = failure.ProviderName };
        if (failure.StatusCode == StatusCodes.Status502BadGateway && failure.Raw is not null)
        {
            metadata["raw"] = failure.Raw;
        }

        await ApiError.WriteAsync(context, failure.StatusCode, failure.Message, metadata);
    }
}

internal static class GatewayExtensions
{
    /// <summary>Registers the chat-completions gateway: catalogue, providers, router.</summary>
    public static IHostApplicationBuilder AddGateway(this IHostApplicationBuilder builder)
    {
        builder.AddModelCatalog();
        builder.AddProviders();
        builder.Services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        builder.Services.AddSingleton<ChatRouter>();
        return builder;
    }

    private sealed class GatewayOptionsValidator : IValidateOptions<GatewayOptions>
    {
        public ValidateOptionsResult Validate(string? name, GatewayOptions options)
        {
            var errors = options.Validate().ToArray();
            return errors.Length == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
