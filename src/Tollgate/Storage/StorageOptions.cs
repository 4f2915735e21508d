namespace Tollgate.Storage;

/// <summary>Where Tollgate keeps its data (<c>Tollgate:Storage</c>).</summary>
internal sealed class StorageOptions
{
    public const string Section = "Tollgate:Storage";

    /// <summary><c>sqlite</c> (the default). PostgreSQL arrives with the cluster work.</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>The SQLite database file; a relative path is taken from the content root.</summary>
    public string SqlitePath { get; set; } = "data/tollgate.db";
}
