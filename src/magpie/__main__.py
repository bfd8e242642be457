from magpie.cli import main

raise SystemExit(main())
