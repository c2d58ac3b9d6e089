# language: da
Egenskab: Udtræk af registerdata til betalingsmåling
  Betalingsmål 1 måles på registerdata 1-2 år før og efter henvisningen. Der må ikke
  indhentes oplysninger om en borger, hvis journalsamtykke ikke dækker den dag, de indhentes
  (sundhedsloven § 42 d, stk. 1, § 43, stk. 1, og § 44). Et udtræk kræver en anmodning inden
  for udtrækspolitikken (policies/extracts.yaml) og godkendelse af en anden dataansvarlig i
  samme organisation.

  Baggrund:
    Givet en borger på Hold 2 henvist den 2. november 2026 til udtræk
    Og borgeren har et journalsamtykke underskrevet og indført i journalen den 5. november 2026

  Regel: Kun borgere, hvis samtykke dækker udførelsesdagen, kommer med

    Scenarie: Samtykket udløb dagen før udførelsen
      Givet en godkendt anmodning om 1-års-målingen planlagt til den 5. november 2027
      Når udtrækket udføres den 5. november 2027
      Så er borgeren ikke med i udtrækket
      Og manifestet tæller borgeren som "udløbet"

    Scenarie: Samtykket dækker udførelsesdagen
      Givet en godkendt anmodning om 1-års-målingen planlagt til den 4. november 2027
      Når udtrækket udføres den 4. november 2027
      Så er borgeren med i udtrækket
      Og oplysningerne er registreret som indhentet den 4. november 2027

  Regel: En tilbagekaldelse efter udførelsen sletter ikke det indhentede, men stopper næste udtræk

    Scenarie: Tilbagekaldelse efter udførelsen
      Givet en godkendt anmodning om 1-års-målingen planlagt til den 1. juni 2027
      Og udtrækket er udført den 1. juni 2027
      Når borgeren tilbagekalder sit journalsamtykke den 2. juni 2027
      Så er det første udtræk uændret med borgeren
      Og en ny godkendt anmodning udført den 3. juni 2027 tæller borgeren som "tilbagekaldt"

  Regel: Den, der anmoder, kan ikke selv godkende

    Scenarie: Anmoderen forsøger at godkende sin egen anmodning
      Givet en anmodning om 1-års-målingen planlagt til den 1. juni 2027
      Når den samme dataansvarlige forsøger at godkende anmodningen
      Så afvises godkendelsen
      Og anmodningen afventer stadig godkendelse

  Regel: Kun felter, som formålet tillader, kan anmodes om

    Scenarie: Et felt, som formålet ikke tillader
      Når en dataansvarlig anmoder om feltet "home_nursing" fra Sygesikringsregistret til betalingsmål 1, regionalt
      Så afvises anmodningen med reglen fra udtrækspolitikken

  Regel: 2-års-målingen kræver et nyt samtykke

    Scenarie: Det første samtykke dækker ikke 2-års-målingen
      Når dækningsplanen for 2-års-målingen den 30. juni 2028 ses den 1. juni 2027
      Så er borgeren dækket i dag, men ikke på den planlagte dato
      Og borgeren skal give nyt samtykke senest den 4. november 2027
      Og navigatøren har opgaven på arbejdslisten, når samtykkeservicen kører den 5. september 2027
