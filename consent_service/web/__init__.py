"""HTTP edge: request context, dependencies, pages, errors."""
