// A real PostgreSQL: docs/postgres.md's recipe.
import './recipe.test'
