using Tollgate.Models;

namespace Tollgate.Dashboard.Settings.Keys;

/// <summary>What the key fields partial shows: the values, the catalogue to pick models from, and which field was wrong.</summary>
internal sealed record KeyFormView(KeyForm Form, IReadOnlyList<ModelDefinition> Catalogue, bool ShowScopes, bool MayHoldAdmin, string? ErrorField);

/// <summary>A secret shown once: after a create or a rotation.</summary>
internal sealed record SecretView(string Secret, Tollgate.ApiKeys.ApiKey Key, string BaseUrl, string ModelId, DateTimeOffset? PreviousValidUntil = null);
