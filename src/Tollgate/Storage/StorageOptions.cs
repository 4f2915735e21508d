namespace Tollgate.Storage;

/// <summary>Where Tollgate keeps its data (<c>Tollgate:Storage</c>).</summary>
internal sealed class StorageOptions
{
    public const string Section = "Tollgate:Storage";

    /// <summary><c>sqlite</c> (the default: one instance) or <c>postgres</c> (one or several instances).</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>The SQLite database file; a relative path is taken from the content root.</summary>
    public string SqlitePath { get; set; } = "data/tollgate.db";

    /// <summary>The PostgreSQL connection string (Npgsql's format), for <c>Provider = postgres</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Connections this instance keeps open to PostgreSQL at most.</summary>
    public int MaxPoolSize { get; set; } = 50;

    public bool IsPostgres => string.Equals(Provider, "postgres", StringComparison.OrdinalIgnoreCase);

    /// <summary>What is wrong with the settings, naming the setting; null when they are usable.</summary>
    public string? Validate()
    {
        if (!IsPostgres && !string.Equals(Provider, "sqlite", StringComparison.OrdinalIgnoreCase))
        {
            return $"{Section}:Provider must be 'sqlite' or 'postgres', not '{Provider}'";
        }

        if (IsPostgres)
        {
            if (string.IsNullOrWhiteSpace(ConnectionString))
            {
                return $"{Section}:ConnectionString is required when {Section}:Provider is 'postgres'";
            }

            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString);
            }
            catch (ArgumentException)
            {
                // The message could echo the password: say only which setting is wrong.
                return $"{Section}:ConnectionString is not a valid PostgreSQL connection string";
            }

            return MaxPoolSize is < 2 or > 1000 ? $"{Section}:MaxPoolSize must be between 2 and 1000" : null;
        }

        return string.IsNullOrWhiteSpace(SqlitePath) ? $"{Section}:SqlitePath must name a file" : null;
    }

    /// <summary>The provider as configured, read before the container is built (registration depends on it).</summary>
    public static bool UsesPostgres(IConfiguration configuration) =>
        string.Equals(configuration[$"{Section}:Provider"], "postgres", StringComparison.OrdinalIgnoreCase);
}
