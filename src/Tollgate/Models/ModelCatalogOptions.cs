namespace Tollgate.Models;

/// <summary>A provider: where and how to reach one upstream (<c>Tollgate:Providers:{name}</c>).</summary>
internal sealed class ProviderSettings
{
    /// <summary>The provider's name, the key under <c>Tollgate:Providers</c> (set on load).</summary>
    public string Name { get; set; } = "";

    /// <summary><c>openai</c> (any OpenAI-compatible server), <c>anthropic</c> or <c>demo</c>.</summary>
    public string Type { get; set; } = "";

    /// <summary>Base URL up to and including the version segment: <c>https://api.openai.com/v1</c>,
    /// <c>http://127.0.0.1:11434/v1</c>, <c>https://api.anthropic.com</c>.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>The upstream credential. Never logged, never returned.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Anthropic only: the <c>anthropic-version</c> header.</summary>
    public string AnthropicVersion { get; set; } = "2023-06-01";

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>From sending the request to the first byte of the answer (for a non-streamed
    /// call, the whole answer: upstreams send it when generation ends).</summary>
    public TimeSpan FirstByteTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>Longest silence between two chunks of a stream.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>
    /// openai-type only: the field that carries the completion cap when the client sent none
    /// (<c>max_tokens</c>, which every OpenAI-compatible server understands, or <c>max_completion_tokens</c>,
    /// which OpenAI's reasoning models require). The cap that was reserved is always sent.
    /// </summary>
    public string MaxTokensField { get; set; } = "max_tokens";
}

/// <summary>One model of the catalogue (<c>Tollgate:Models:N</c>).</summary>
internal sealed class ModelDefinition
{
    /// <summary><c>provider/model</c>, what clients send.</summary>
    public string Id { get; set; } = "";

    public string? Name { get; set; }

    public string? Description { get; set; }

    public int ContextLength { get; set; } = 8192;

    /// <summary>The completion cap: the default <c>max_tokens</c> when a client sends none.</summary>
    public int MaxCompletionTokens { get; set; } = 4096;

    /// <summary>
    /// The most prompt tokens one image can cost on this model, whatever its size or detail (the
    /// upstream scales images down): each image part reserves this many. OpenAI's high-detail images
    /// cost up to about 1,500 tokens (2,500 on its mini models), Anthropic's about 1,600.
    /// </summary>
    public int MaxImageTokens { get; set; } = 2500;

    /// <summary>
    /// The model reasons (Claude with extended thinking, OpenAI's o-series and GPT-5, DeepSeek R1...): a request's
    /// <c>reasoning</c> becomes the provider's own field. For other models reasoning fields are dropped, never an error.
    /// </summary>
    public bool Reasoning { get; set; }

    /// <summary>
    /// The model makes embeddings (<c>POST /api/v1/embeddings</c>, billed per input token at <see cref="ModelPricing.Embedding"/>)
    /// instead of chat completions. Its deployments must be on <c>openai</c> or <c>demo</c> providers.
    /// </summary>
    public bool Embeddings { get; set; }

    /// <summary>The model's prices; null when none are configured (the model is unpriced: calls cost nothing, and the dashboard says "unpriced", never $0).</summary>
    public ModelPricing? Pricing { get; set; }

    /// <summary>The prices billing uses: <see cref="Pricing"/>, or zero for an unpriced model.</summary>
    internal ModelPricing Prices => Pricing ?? ModelPricing.Zero;

    /// <summary>False when no prices are configured: shown as "unpriced", never as $0.</summary>
    internal bool IsPriced => Pricing is not null;

    public List<DeploymentDefinition> Deployments { get; set; } = [];
}

/// <summary>USD per token, as decimal strings (<c>"0.000003"</c>).</summary>
internal sealed class ModelPricing
{
    /// <summary>No price at all: what an unpriced model is billed.</summary>
    internal static readonly ModelPricing Zero = new();

    public decimal Prompt { get; set; }

    public decimal Completion { get; set; }

    public decimal InputCacheRead { get; set; }

    /// <summary>USD per input token of an embedding model; unset (0): the <see cref="Prompt"/> price.</summary>
    public decimal Embedding { get; set; }

    /// <summary>The price of an embedded token, as billed.</summary>
    internal decimal EmbeddingPrice => Embedding > 0 ? Embedding : Prompt;

    /// <summary>
    /// Prompt tokens written to the provider's cache (Anthropic's <c>cache_creation_input_tokens</c>,
    /// OpenRouter's <c>cache_write_tokens</c>): 1.25 × the prompt price for Anthropic's 5-minute cache,
    /// 2 × for its 1-hour cache. Unset: the prompt price.
    /// </summary>
    public decimal? InputCacheWrite { get; set; }

    /// <summary>The price of a prompt token cache write, as billed.</summary>
    internal decimal CacheWrite => InputCacheWrite ?? Prompt;

    /// <summary>The most one prompt token can cost, whichever way the upstream bills it: what a reservation counts.</summary>
    internal decimal PromptCeiling => Math.Max(Prompt, CacheWrite);
}

/// <summary>Where a model runs: a provider and the upstream's name for the model.</summary>
internal sealed class DeploymentDefinition
{
    public string Provider { get; set; } = "";

    /// <summary>The upstream's model name (<c>gpt-4o</c>, <c>claude-sonnet-4-6</c>, <c>llama3.1:8b</c>).</summary>
    public string Model { get; set; } = "";

    /// <summary>Share of traffic among healthy deployments.</summary>
    public int Weight { get; set; } = 1;
}
