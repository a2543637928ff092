import sys

from rentbuy.cli import main

sys.exit(main())
