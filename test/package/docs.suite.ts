// Every code block of README.md and docs/ (its own process: it type-checks and runs them).
import './docs.test'
