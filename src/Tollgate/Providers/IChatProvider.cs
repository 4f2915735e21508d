using System.Text.Json.Nodes;
using Tollgate.Models;

namespace Tollgate.Providers;

/// <summary>
/// One upstream type (openai, anthropic, demo). Speaks OpenAI's Chat Completions shapes to the
/// gateway whatever the upstream's own format: requests in, <c>chat.completion</c> objects and
/// <c>chat.completion.chunk</c> objects out. The gateway sets <c>id</c> and <c>model</c>,
/// normalises <c>finish_reason</c> and emits usage; a provider only translates and transports.
/// </summary>
internal interface IChatProvider
{
    /// <summary>A whole completion (OpenAI <c>chat.completion</c> object, usage included when known).</summary>
    /// <exception cref="UpstreamException">The upstream refused, failed, timed out or could not be reached.</exception>
    Task<JsonObject> CompleteAsync(ProviderRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Starts a stream; returns once the upstream has accepted the request. The chunks are
    /// OpenAI <c>chat.completion.chunk</c> objects; usage may ride on any of them. Errors while
    /// enumerating are thrown as <see cref="UpstreamException"/>.
    /// </summary>
    Task<IAsyncEnumerable<JsonObject>> StreamAsync(ProviderRequest request, CancellationToken cancellationToken);
}

/// <summary>What a provider needs for one call.</summary>
/// <param name="Body">The client's request body (OpenAI shape). Providers copy it; they never change it in place.</param>
/// <param name="Model">The catalogue entry the client asked for.</param>
/// <param name="Deployment">The deployment chosen for this attempt.</param>
/// <param name="Provider">The settings of the deployment's provider.</param>
internal sealed record ProviderRequest(JsonObject Body, ModelDefinition Model, DeploymentDefinition Deployment, ProviderSettings Provider)
{
    /// <summary>
    /// The completion cap that was reserved (the client's, else the model's): providers always send it,
    /// so that no upstream applies a larger default of its own.
    /// </summary>
    public int MaxTokens
    {
        get => field > 0 ? field : Model.MaxCompletionTokens;
        init;
    }

    /// <summary>What the client asked of the model's reasoning; null when nothing. Honoured only for models that reason.</summary>
    public Gateway.ReasoningRequest? Reasoning { get; init; }

    /// <summary>The client's Anthropic body, for an <c>anthropic</c> upstream to take as it is; null for OpenAI-format requests.</summary>
    public AnthropicPassthrough? Anthropic { get; init; }

    /// <summary>Reasoning is asked for and the model can do it.</summary>
    public bool Reasons => Reasoning is { Enabled: true } && Model.Reasoning;
}

/// <summary>An Anthropic Messages request as its client sent it, and its <c>anthropic-beta</c> header.</summary>
internal sealed record AnthropicPassthrough(JsonObject Body, string? Beta);

/// <summary>
/// An upstream failure. <see cref="StatusCode"/> is the status Tollgate answers with (SPEC section 2:
/// 408 timeout, 429 rate limited, 502 failed or invalid, 503 unreachable); <see cref="Retryable"/>
/// says whether another attempt (same or other deployment) may succeed.
/// </summary>
internal sealed class UpstreamException(int statusCode, string message, bool retryable, string? raw = null, Exception? inner = null)
    : Exception(message, inner)
{
    public int StatusCode { get; } = statusCode;

    public bool Retryable { get; } = retryable;

    /// <summary>The provider that failed, for <c>metadata.provider_name</c> (set by the router).</summary>
    public string? ProviderName { get; set; }

    /// <summary>The upstream's error body, truncated to 1 KiB, credentials removed.</summary>
    public string? Raw { get; } = raw;

    /// <summary>The OpenAI-style string code for the mid-stream error event (SPEC section 2).</summary>
    public string StreamErrorCode => StatusCode switch
    {
        429 => "rate_limit",
        _ => "server_error",
    };
}
