"""What a run reports: its outcome (`outcome`), the HTML report (`html`), its figures (`figures`) and
charts (`charts`)."""
