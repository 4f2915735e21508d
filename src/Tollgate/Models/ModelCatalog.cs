using Tollgate.Configuration;
using Microsoft.Extensions.Options;

namespace Tollgate.Models;

/// <summary>The catalogue and its providers, as configured (<c>Tollgate:Providers</c>, <c>Tollgate:Models</c>).</summary>
internal sealed class CatalogOptions
{
    public const string Section = "Tollgate";

    public Dictionary<string, ProviderSettings> Providers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public List<ModelDefinition> Models { get; set; } = [];

    public DemoSettings Demo { get; set; } = new();

    /// <summary>Every problem with the settings, each naming its setting.</summary>
    internal IEnumerable<string> Validate()
    {
        foreach (var (name, provider) in Providers)
        {
            var at = $"Tollgate:Providers:{name}";
            if (provider.Type is not ("openai" or "anthropic" or "demo"))
            {
                yield return $"{at}:Type must be openai, anthropic or demo, not '{provider.Type}'";
            }

            if (provider.MaxTokensField is not ("max_tokens" or "max_completion_tokens"))
            {
                yield return $"{at}:MaxTokensField must be max_tokens or max_completion_tokens, not '{provider.MaxTokensField}'";
            }

            if (provider.Type is "openai" or "anthropic" &&
                !(Uri.TryCreate(provider.BaseUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"))
            {
                yield return $"{at}:BaseUrl must be an http(s) URL, such as https://api.openai.com/v1";
            }

            foreach (var (setting, value) in new[] { ("ConnectTimeout", provider.ConnectTimeout), ("FirstByteTimeout", provider.FirstByteTimeout), ("IdleTimeout", provider.IdleTimeout) })
            {
                if (value <= TimeSpan.Zero || value > TimeSpan.FromHours(24))
                {
                    yield return $"{at}:{setting} must be between 00:00:00.001 and 1.00:00:00";
                }
            }
        }

        var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < Models.Count; i++)
        {
            var model = Models[i];
            var at = $"Tollgate:Models:{i}";
            var slash = model.Id.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || slash == model.Id.Length - 1 || model.Id.Contains('*', StringComparison.Ordinal))
            {
                yield return $"{at}:Id must be 'provider/model', not '{model.Id}'";
            }
            else if (!ids.Add(model.Id))
            {
                yield return $"{at}:Id '{model.Id}' is configured twice";
            }

            if (model.ContextLength < 1 || model.MaxCompletionTokens < 1)
            {
                yield return $"{at}:ContextLength and MaxCompletionTokens must be at least 1";
            }

            if (model.MaxImageTokens is < 1 or > 1_000_000)
            {
                yield return $"{at}:MaxImageTokens must be between 1 and 1000000";
            }

            if (model.Prices.Prompt < 0 || model.Prices.Completion < 0 || model.Prices.InputCacheRead < 0 || model.Prices.InputCacheWrite < 0 ||
                model.Prices.Embedding < 0)
            {
                yield return $"{at}:Pricing prices must not be negative";
            }

            if (model.Deployments.Count == 0)
            {
                yield return $"{at}:Deployments must list at least one deployment";
            }

            for (var d = 0; d < model.Deployments.Count; d++)
            {
                var deployment = model.Deployments[d];
                if (!Providers.ContainsKey(deployment.Provider))
                {
                    yield return $"{at}:Deployments:{d}:Provider '{deployment.Provider}' is not configured under Tollgate:Providers";
                }

                if (string.IsNullOrWhiteSpace(deployment.Model))
                {
                    yield return $"{at}:Deployments:{d}:Model must name the upstream's model";
                }

                if (deployment.Weight < 1)
                {
                    yield return $"{at}:Deployments:{d}:Weight must be at least 1";
                }

                if (model.Embeddings && Providers.TryGetValue(deployment.Provider, out var host) && host.Type == "anthropic")
                {
                    yield return $"{at}:Deployments:{d}:Provider '{deployment.Provider}' is an anthropic provider, which makes no embeddings";
                }
            }
        }
    }
}

/// <summary>The built-in offline demo model (<c>Tollgate:Demo</c>).</summary>
internal sealed class DemoSettings
{
    public const string ModelId = "demo/echo";

    /// <summary>The built-in embedding model: deterministic vectors, offline.</summary>
    public const string EmbeddingModelId = "demo/embed";

    /// <summary>The length of <see cref="EmbeddingModelId"/>'s vectors when the request does not ask for <c>dimensions</c>.</summary>
    public const int EmbeddingDimensions = 256;

    /// <summary>Adds the <c>demo</c> provider and the <c>demo/echo</c> model (on by default).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Pause between streamed words, so a person sees the stream.</summary>
    public TimeSpan WordDelay { get; set; } = TimeSpan.FromMilliseconds(15);
}

/// <summary>The models clients can call, looked up by id (case-insensitive).</summary>
internal sealed class ModelCatalog
{
    private readonly Dictionary<string, ModelDefinition> _models;

    public ModelCatalog(IOptions<CatalogOptions> options)
    {
        var settings = options.Value;
        foreach (var (name, provider) in settings.Providers)
        {
            provider.Name = name;
        }

        Providers = settings.Providers;
        Models = settings.Models;
        _models = settings.Models.ToDictionary(m => m.Id, StringComparer.OrdinalIgnoreCase);
    }

    public IReadOnlyDictionary<string, ProviderSettings> Providers { get; }

    public IReadOnlyList<ModelDefinition> Models { get; }

    public bool TryGet(string id, out ModelDefinition model) => _models.TryGetValue(id, out model!);

    /// <summary>Adds the demo provider and model unless switched off or configured already.</summary>
    internal static void AddDemo(CatalogOptions options)
    {
        if (!options.Demo.Enabled)
        {
            return;
        }

        options.Providers.TryAdd("demo", new ProviderSettings { Type = "demo" });
        if (!options.Models.Any(m => string.Equals(m.Id, DemoSettings.ModelId, StringComparison.OrdinalIgnoreCase)))
        {
            options.Models.Insert(0, new ModelDefinition
            {
                Id = DemoSettings.ModelId,
                Name = "Tollgate demo (offline echo)",
                Description = "Built-in demo model, not a real LLM: answers offline and deterministically by echoing the last message, " +
                    "so keys, streaming, billing and usage can be tried with no upstream account.",
                ContextLength = 32_768,
                MaxCompletionTokens = 1024,
                Pricing = new ModelPricing { Prompt = 0.000001m, Completion = 0.000002m, InputCacheRead = 0m },
                Deployments = [new DeploymentDefinition { Provider = "demo", Model = "echo" }],
            });
        }

        if (!options.Models.Any(m => string.Equals(m.Id, DemoSettings.EmbeddingModelId, StringComparison.OrdinalIgnoreCase)))
        {
            options.Models.Insert(1, new ModelDefinition
            {
                Id = DemoSettings.EmbeddingModelId,
                Name = "Tollgate demo embeddings (offline)",
                Description = "Built-in demo embedding model, not a real one: deterministic unit vectors (the same text, the same vector), " +
                    $"{DemoSettings.EmbeddingDimensions} dimensions unless asked for others, so embeddings and their billing can be tried offline.",
                ContextLength = 8192,
                MaxCompletionTokens = 1,
                Embeddings = true,
                Pricing = new ModelPricing { Prompt = 0.00000002m, Embedding = 0.00000002m },
                Deployments = [new DeploymentDefinition { Provider = "demo", Model = "embed" }],
            });
        }
    }
}

internal static class ModelCatalogExtensions
{
    /// <summary>Registers the catalogue from configuration, validated at start (every error, each naming its setting).</summary>
    public static IHostApplicationBuilder AddModelCatalog(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CatalogOptions>()
            .BindConfiguration(CatalogOptions.Section)
            .PostConfigure(ModelCatalog.AddDemo)
            .ValidateSettings(o => o.Validate())
            .ValidateElementTypes(CatalogOptions.Section);
        builder.Services.AddSingleton<ModelCatalog>();
        return builder;
    }
}
