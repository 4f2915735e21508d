namespace Tollgate.Tests.Infrastructure;

/// <summary>
/// Which storage the suite runs on: SQLite by default, PostgreSQL with <c>TOLLGATE_TEST_STORAGE=postgres</c>
/// (the test command runs the storage, billing and usage tests a second time that way).
/// </summary>
internal static class TestStorage
{
    public static bool Postgres { get; } =
        string.Equals(Environment.GetEnvironmentVariable("TOLLGATE_TEST_STORAGE"), "postgres", StringComparison.OrdinalIgnoreCase);
}
