using System.Text.Json.Nodes;

namespace Tollgate.Providers;

/// <summary>
/// An upstream type that makes embeddings (openai, demo). Speaks OpenAI's embeddings shapes: the request as the client sent
/// it (the provider rewrites the model), and an answer with <c>data</c> and, when the upstream counts it, <c>usage</c>.
/// </summary>
internal interface IEmbeddingProvider
{
    /// <exception cref="UpstreamException">The upstream refused, failed, timed out or could not be reached.</exception>
    Task<JsonObject> EmbedAsync(ProviderRequest request, CancellationToken cancellationToken);
}
