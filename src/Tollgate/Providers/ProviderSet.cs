using Tollgate.Models;
using Tollgate.Providers.Anthropic;
using Tollgate.Providers.Demo;
using Tollgate.Providers.OpenAi;

namespace Tollgate.Providers;

/// <summary>The provider implementation for each provider type. Adding a type touches its folder and this switch.</summary>
internal sealed class ProviderSet(OpenAiProvider openAi, AnthropicProvider anthropic, DemoProvider demo)
{
    public IChatProvider For(ProviderSettings provider) => provider.Type switch
    {
        "openai" => openAi,
        "anthropic" => anthropic,
        "demo" => demo,
        _ => throw new InvalidOperationException($"Unknown provider type '{provider.Type}'"),
    };

    /// <summary>The provider's embeddings; null for a type that makes none (anthropic).</summary>
    public IEmbeddingProvider? EmbeddingsFor(ProviderSettings provider) => For(provider) as IEmbeddingProvider;
}

internal static class ProvidersExtensions
{
    /// <summary>Registers the provider types and their shared HTTP clients.</summary>
    public static IHostApplicationBuilder AddProviders(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<UpstreamClients>();
        builder.Services.AddSingleton<UpstreamRedactor>();
        builder.Services.AddSingleton<TokenCounter>();
        builder.Services.AddSingleton<OpenAiProvider>();
        builder.Services.AddSingleton<AnthropicProvider>();
        builder.Services.AddSingleton<DemoProvider>();
        builder.Services.AddSingleton<ProviderSet>();
        return builder;
    }
}
